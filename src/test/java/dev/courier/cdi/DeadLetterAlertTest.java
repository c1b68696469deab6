package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.DeadLetterAlert;
import dev.courier.Message;
import dev.courier.engine.Engine;
import dev.courier.testing.Deployment;
import io.smallrye.health.AsyncHealthCheckFactory;
import io.smallrye.health.SmallRyeHealthReporter;
import io.smallrye.health.registry.HealthRegistries;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A dead-letter queue that reaches its alert depth fires one CDI event per crossing, and readiness shows it. */
class DeadLetterAlertTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    @ApplicationScoped
    static class Pager {
        final List<DeadLetterAlert> pages = new CopyOnWriteArrayList<>();

        void page(@Observes DeadLetterAlert alert) {
            pages.add(alert);
        }

        List<DeadLetterAlert> pages() {
            return pages;
        }
    }

    static void deadLetter(Broker broker, int count) {
        for (int i = 0; i < count; i++) {
            broker.publish("orders", Map.of("type", "order", "n", i));
            Message m = broker.read("orders", "ops", 1).get(0);
            assertTrue(broker.nack("orders", m.id(), "ops")); // max-retries 0: dead-lettered
        }
    }

    static long standingDepth(Engine engine) {
        return engine.deadLetterAlerts().stream().filter(a -> a.stream().equals("orders"))
                .mapToLong(DeadLetterAlert::depth).findFirst().orElse(-1);
    }

    @Test
    void crossing_and_recrossing_the_threshold_fires_one_event_each_time() {
        try (Deployment app = Deployment.of(Deployment.inline(
                "brokers.default.max-retries", "0",
                "brokers.default.dead-letter-alert-depth", "1000, orders=3",
                "brokers.default.maintenance-interval", "0.02"),
                Pager.class, SmallRyeHealthReporter.class, AsyncHealthCheckFactory.class, HealthRegistries.class)) {
            Pager pager = app.bean(Pager.class);
            Broker broker = app.broker();
            Engine engine = app.engine();

            deadLetter(broker, 2);
            deadLetter(broker, 1);
            await().atMost(WAIT).until(() -> pager.pages().size() == 1);
            DeadLetterAlert first = pager.pages().get(0);
            assertEquals("default", first.broker());
            assertEquals("orders", first.stream());
            assertEquals(3, first.depth());
            assertEquals(3, first.threshold());

            deadLetter(broker, 2);
            await().atMost(WAIT).until(() -> standingDepth(engine) == 5); // checked again since
            assertEquals(1, pager.pages().size(), "no second event while the depth stays above");
            JsonObject data = readiness(app);
            assertEquals(5, data.getJsonNumber("default.dead_letter_alert.orders").longValue());

            broker.purgeDeadLetters("orders");
            await().atMost(WAIT).until(() -> engine.deadLetterAlerts().isEmpty());
            assertFalse(readiness(app).containsKey("default.dead_letter_alert.orders"));
            assertEquals(1, pager.pages().size());

            deadLetter(broker, 3);
            await().atMost(WAIT).until(() -> pager.pages().size() == 2);
            assertEquals(3, pager.pages().get(1).depth());
        }
    }

    @Test
    void the_maintenance_thread_ends_with_the_application() {
        // By identity, not by count: another test's maintenance thread may still be ending when this one begins.
        Set<Thread> before = maintenanceThreads();
        Set<Thread> ours = new HashSet<>();
        try (Deployment app = Deployment.of(Deployment.inline("brokers.default.maintenance-interval", "0.02"))) {
            await().atMost(WAIT).until(() -> {
                ours.addAll(maintenanceThreads());
                ours.removeAll(before);
                return ours.size() == 1;
            });
        }
        await().atMost(WAIT).until(() -> ours.stream().noneMatch(Thread::isAlive));
    }

    static Set<Thread> maintenanceThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().equals("courier-maintenance")).collect(Collectors.toSet());
    }

    @Test
    void a_bad_alert_depth_fails_the_deployment_naming_the_property() {
        ConfigurationErrorTest.assertContains(ConfigurationErrorTest.deploymentFailure(ConfigurationErrorTest.valid(
                "brokers.default.dead-letter-alert-depth", "orders=ten")).assertProblem(
                dev.courier.BrokerConfigurationException.Code.INVALID_VALUE, "brokers.default.dead-letter-alert-depth"),
                "'ten' is not a depth");
    }

    static JsonObject readiness(Deployment app) {
        return app.bean(SmallRyeHealthReporter.class).getReadiness().getPayload().getJsonArray("checks").stream()
                .map(JsonObject.class::cast)
                .filter(c -> c.getString("name").equals("courier-brokers"))
                .findFirst().orElseThrow().getJsonObject("data");
    }
}
