package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.engine.LoopStatus;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.Deployment;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** On redis the held entries stay pending on this consumer, delivered once, and are not read again while open. */
@WithRedis
class RedisCircuitBreakerTest {

    static final Duration WAIT = Duration.ofSeconds(15);
    static final String GROUP = CircuitBreakerTest.GuardedOrders.class.getName();

    /** Each pending entry as [consumer, delivery count]. */
    static List<List<String>> pending(RedisServer redis) {
        return ((List<?>) redis.command("XPENDING", "orders", GROUP, "-", "+", "100")).stream()
                .map(e -> (List<?>) e)
                .map(e -> List.of(text(e.get(1)), text(e.get(3))))
                .toList();
    }

    static String text(Object reply) {
        return reply instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : String.valueOf(reply);
    }

    @Test
    void held_entries_stay_pending_on_this_consumer_without_a_second_delivery(RedisServer redis) {
        // Published before the group exists, so that its first read takes all ten in one batch.
        try (Broker publisher = new RedisBrokerProvider().create("publisher",
                new BrokerSettings("publisher", RedisBrokerProvider.NAME, Map.of("uri", redis.uri())))) {
            for (int i = 0; i < 10; i++) {
                publisher.publish("orders", Map.of("type", "order", "n", i));
            }
        }
        try (Deployment app = Deployment.of(Map.of(
                "brokers.default.provider", RedisBrokerProvider.NAME,
                "brokers.default.uri", redis.uri(),
                "brokers.default.max-retries", "1",
                "brokers.default.retry-delay", "0.05",
                "courier.consumer-name", "c1"), CircuitBreakerTest.GuardedOrders.class)) {
            CircuitBreakerTest.GuardedOrders orders = app.bean(CircuitBreakerTest.GuardedOrders.class);
            Broker broker = app.broker();
            await().atMost(WAIT).until(() -> CircuitBreakerTest.loop(app.engine()).state() == LoopStatus.State.OPEN);
            for (int i = 10; i < 15; i++) {
                broker.publish("orders", Map.of("type", "order", "n", i));
            }
            int attempts = orders.attempts().size();
            await().during(Duration.ofMillis(600)).atMost(Duration.ofMillis(1500))
                    .until(() -> orders.attempts().size() == attempts);
            List<List<String>> pending = pending(redis);
            assertEquals(10, pending.size(), "the 5 published while open were not read: " + pending);
            assertTrue(pending.stream().allMatch(p -> p.get(1).equals("1")), "delivered once each: " + pending);
            long onThisConsumer = pending.stream().filter(p -> p.get(0).equals("c1")).count();
            assertEquals(10 - (attempts - 1), onThisConsumer, "the failure that opened it and the rest of its batch "
                    + "stay on c1; the earlier failures wait for their retry: " + pending);
            assertEquals(0, broker.deadLetterDepth("orders"));

            orders.databaseUp();
            await().atMost(WAIT).until(() -> orders.saved().stream().map(m -> m.payload().get("n")).distinct()
                    .count() == 15);
            await().atMost(WAIT).until(() -> pending(redis).isEmpty());
            assertEquals(0, broker.deadLetterDepth("orders"));
            assertTrue(orders.saved().stream().allMatch(m -> m.deliveryCount() <= 2), orders.saved().toString());
        }
    }
}
