package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An engine with 16 workers, in a JVM of its own, is killed with SIGKILL in the middle of a run and started again
 * under the same consumer name: every message is handled, none lost, and nothing stays pending.
 */
@WithRedis
class RedisConcurrentCrashTest {

    private static final int MESSAGES = 5_000;
    private static final String GROUP = RecordingOrders.class.getName();

    @Test
    void a_killed_engine_with_workers_loses_nothing(RedisServer redis) throws Exception {
        Set<String> published = new HashSet<>();
        try (RedisClient client = RedisClient.create(URI.create(redis.uri()));
             Broker publisher = new RedisBrokerProvider().create("publisher",
                     new BrokerSettings("publisher", RedisBrokerProvider.NAME, Map.of("uri", redis.uri())))) {
            List<Map<String, Object>> orders = new ArrayList<>();
            for (int i = 0; i < MESSAGES; i++) {
                orders.add(Map.of("event_type", "order.placed", "n", i));
            }
            for (int from = 0; from < MESSAGES; from += 500) {
                published.addAll(publisher.publishAll(RecordingOrders.STREAM, orders.subList(from, from + 500)));
            }
            Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                    EngineProcess.class.getName(), redis.uri(), "restarted", "16")
                    .redirectError(ProcessBuilder.Redirect.INHERIT).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            long handledAtKill;
            long pendingAtKill;
            try {
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(5))
                        .until(() -> client.hlen(RecordingOrders.HANDLED) >= MESSAGES / 5);
                child.destroyForcibly(); // SIGKILL, with handlers running and messages held
                assertTrue(child.waitFor(30, TimeUnit.SECONDS));
                handledAtKill = client.hlen(RecordingOrders.HANDLED);
                pendingAtKill = client.xpending(RecordingOrders.STREAM, GROUP).getTotal();
            } finally {
                child.destroyForcibly();
            }
            assertFalse(child.isAlive());
            assertTrue(handledAtKill < MESSAGES, "work was left: " + handledAtKill);

            Map<String, String> properties = RedisEngineCrashTest.properties(redis.uri(), "restarted");
            properties.put("courier.subscribers." + GROUP + ".concurrency", "16");
            try (Deployment app = Deployment.of(properties, RecordingOrders.class)) {
                await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(10))
                        .until(() -> client.hlen(RecordingOrders.HANDLED) == MESSAGES
                                && client.xpending(RecordingOrders.STREAM, GROUP).getTotal() == 0);
                assertEquals(16, Inspect.loop(app.engine(), RecordingOrders.STREAM, GROUP).concurrency());
            }
            Set<String> lost = new HashSet<>(published);
            lost.removeAll(client.hgetAll(RecordingOrders.HANDLED).keySet());
            System.out.printf("engine with 16 workers killed: handled at the kill=%d, pending at the kill=%d, "
                    + "lost=%d%n", handledAtKill, pendingAtKill, lost.size());
            assertEquals(Set.of(), lost, "lost");
            assertEquals(0L, client.xlen(RecordingOrders.STREAM + ":dlq"), "nothing dead-lettered");
        }
    }
}
