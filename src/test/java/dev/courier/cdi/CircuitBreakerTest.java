package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.engine.Engine;
import dev.courier.engine.LoopStatus;
import dev.courier.testing.Deployment;
import jakarta.enterprise.context.ApplicationScoped;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A subscriber's circuit breaker on inline: it stops reading instead of spending retries into the DLQ. */
class CircuitBreakerTest {

    static final Duration WAIT = Duration.ofSeconds(15);

    /** Fails while its database is down. */
    abstract static class Orders {
        final AtomicBoolean down = new AtomicBoolean(true);
        final List<Message> attempts = new CopyOnWriteArrayList<>();
        final List<Message> saved = new CopyOnWriteArrayList<>();

        void handle(Message order) {
            attempts.add(order);
            if (down.get()) {
                throw new IllegalStateException("database down");
            }
            saved.add(order);
        }

        void databaseUp() {
            down.set(false);
        }

        List<Message> attempts() {
            return attempts;
        }

        List<Message> saved() {
            return saved;
        }
    }

    @ApplicationScoped
    static class GuardedOrders extends Orders {
        void save(@Subscribe(stream = "orders", circuitBreaker = @Subscribe.CircuitBreaker(failures = 3, delay = 2,
                delayUnit = ChronoUnit.SECONDS)) Message order) {
            handle(order);
        }
    }

    @ApplicationScoped
    static class PlainOrders extends Orders {
        void save(@Subscribe(stream = "orders") Message order) {
            handle(order);
        }
    }

    static LoopStatus loop(Engine engine) {
        return engine.status().loops().get(0);
    }

    @SuppressWarnings("unchecked")
    static long lag(Broker broker, String group) {
        Map<String, Object> streams = (Map<String, Object>) broker.info().get("streams");
        Map<String, Object> groups = (Map<String, Object>) ((Map<String, Object>) streams.get("orders")).get("groups");
        return ((Number) ((Map<String, Object>) groups.get(group)).get("lag")).longValue();
    }

    @Test
    void after_the_threshold_the_loop_stops_reading_spends_no_retry_and_a_probe_drains_the_backlog() {
        try (Deployment app = Deployment.of(Deployment.inline(
                "brokers.default.max-retries", "1",
                "brokers.default.retry-delay", "0.05"), GuardedOrders.class)) {
            GuardedOrders orders = app.bean(GuardedOrders.class);
            Broker broker = app.broker();
            Engine engine = app.engine();
            for (int i = 0; i < 10; i++) {
                broker.publish("orders", Map.of("type", "order", "n", i));
            }

            await().atMost(WAIT).until(() -> loop(engine).state() == LoopStatus.State.OPEN);
            LoopStatus open = loop(engine);
            assertNotNull(open.circuitOpenUntil());
            assertTrue(open.healthy(), "an open circuit is a loop waiting on purpose");
            int attempts = orders.attempts().size();
            assertTrue(attempts >= 3 && attempts <= 4, "three consecutive failures open it: " + attempts);
            for (int i = 10; i < 15; i++) {
                broker.publish("orders", Map.of("type", "order", "n", i));
            }
            String group = GuardedOrders.class.getName();
            long lag = lag(broker, group);
            assertTrue(lag >= 5, "lag " + lag);
            await().during(Duration.ofMillis(600)).atMost(Duration.ofMillis(1500))
                    .until(() -> orders.attempts().size() == attempts && lag(broker, group) == lag);
            assertEquals(0, broker.deadLetterDepth("orders"), "no message dead-lettered");
            assertTrue(orders.attempts().stream().allMatch(m -> m.deliveryCount() <= 2),
                    "no delivery beyond one retry: " + orders.attempts());

            orders.databaseUp();
            await().atMost(WAIT).until(() -> orders.saved().size() == 15);
            Message probe = orders.saved().get(0);
            assertEquals(1, probe.deliveryCount(), "the probe is the held message, delivered once");
            assertEquals(0, broker.deadLetterDepth("orders"));
            assertEquals(15, orders.saved().stream().map(m -> m.payload().get("n")).distinct().count());
            assertTrue(orders.saved().stream().allMatch(m -> m.deliveryCount() <= 2), orders.saved().toString());
            await().atMost(WAIT).until(() -> loop(engine).state() == LoopStatus.State.RUNNING);
        }
    }

    @Test
    void without_a_breaker_the_failures_are_retried_and_dead_lettered_as_before() {
        try (Deployment app = Deployment.of(Deployment.inline(
                "brokers.default.max-retries", "1",
                "brokers.default.retry-delay", "0.05"), PlainOrders.class)) {
            PlainOrders orders = app.bean(PlainOrders.class);
            Broker broker = app.broker();
            for (int i = 0; i < 10; i++) {
                broker.publish("orders", Map.of("type", "order", "n", i));
            }
            await().atMost(WAIT).until(() -> broker.deadLetterDepth("orders") == 10);
            assertEquals(20, orders.attempts().size(), "each delivered, retried once, then dead-lettered");
            assertEquals(LoopStatus.State.RUNNING, loop(app.engine()).state());
        }
    }

    @ApplicationScoped
    static class NoDelay {
        void save(@Subscribe(stream = "orders", circuitBreaker = @Subscribe.CircuitBreaker(failures = 2, delay = 0))
                  Message order) {
        }
    }

    @ApplicationScoped
    static class TwoBreakers {
        void save(@Subscribe(stream = "orders", circuitBreaker = @Subscribe.CircuitBreaker(failures = 2))
                  Message order) {
        }

        void audit(@Subscribe(stream = "orders") Message order) {
        }
    }

    @Test
    void a_bad_breaker_fails_the_deployment_naming_the_subscriber() {
        ConfigurationErrorTest.assertContains(ConfigurationErrorTest.deploymentFailure(ConfigurationErrorTest.valid(),
                NoDelay.class).assertProblem(dev.courier.BrokerConfigurationException.Code.INVALID_SUBSCRIBER,
                "subscriber " + NoDelay.class.getName() + ".save(Message)"), "@Subscribe(circuitBreaker = ...): "
                + "delay = 0 must be positive");
        var two = ConfigurationErrorTest.deploymentFailure(ConfigurationErrorTest.valid(), TwoBreakers.class)
                .problems();
        org.junit.jupiter.api.Assertions.assertEquals(1, two.size(), two.toString());
        org.junit.jupiter.api.Assertions.assertEquals(dev.courier.BrokerConfigurationException.Code.INVALID_SUBSCRIBER,
                two.get(0).code());
        ConfigurationErrorTest.assertContains(two.get(0).getMessage(), "consume stream 'orders' of broker 'default' "
                + "as group '" + TwoBreakers.class.getName() + "', in one loop, and declare different circuit breakers");
    }
}
