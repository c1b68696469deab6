package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.engine.LoopStatus;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.params.XPendingParams;
import redis.clients.jedis.resps.StreamPendingEntry;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two engines of one application share a consumer group on {@code redis}; one, in a JVM of its own, is killed with
 * SIGKILL in the middle of a handler; the other finishes the work: every one of 10,000 messages is handled at least
 * once, and the killed engine's unacknowledged messages come back after {@code message-timeout}.
 */
@WithRedis
class RedisEngineCrashTest {

    private static final int MESSAGES = 10_000;
    private static final Duration MESSAGE_TIMEOUT = Duration.ofSeconds(1);
    private static final String GROUP = RecordingOrders.class.getName();

    /** The configuration of both engines: they differ only in consumer name. */
    static Map<String, String> properties(String uri, String consumer) {
        Map<String, String> properties = new HashMap<>();
        properties.put("brokers.default.provider", RedisBrokerProvider.NAME);
        properties.put("brokers.default.uri", uri);
        properties.put("brokers.default.message-timeout", Double.toString(MESSAGE_TIMEOUT.toMillis() / 1000.0));
        properties.put("courier.consumer-name", consumer);
        properties.put("test.redis-uri", uri);
        return properties;
    }

    @Test
    void a_killed_engines_messages_are_handled_by_the_survivor_and_none_is_lost(RedisServer redis) throws Exception {
        Set<String> published = new HashSet<>();
        List<Map<String, Object>> orders = new ArrayList<>();
        for (int i = 0; i < MESSAGES; i++) {
            orders.add(Map.of("event_type", "order.placed", "n", i));
        }
        try (RedisClient client = RedisClient.create(URI.create(redis.uri()));
             Broker publisher = new RedisBrokerProvider().create("publisher",
                     new BrokerSettings("publisher", RedisBrokerProvider.NAME, Map.of("uri", redis.uri())))) {
            // A first tenth before the engines start; the rest once both consume, so that they share the work.
            publish(publisher, orders.subList(0, MESSAGES / 10), published);
            Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                    "-cp", System.getProperty("java.class.path"), EngineProcess.class.getName(), redis.uri(), "doomed")
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String hanging = null;
            long killedAt;
            Deployment survivor = null;
            try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8));
                 Writer in = new OutputStreamWriter(child.getOutputStream(), StandardCharsets.UTF_8)) {
                // Both engines consume together before the kill.
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(10))
                        .until(() -> client.scard(RecordingOrders.HANDLED_BY + "doomed") > 0);
                survivor = Deployment.of(properties(redis.uri(), "survivor"), RecordingOrders.class);
                // The rest at once: the first tenth may be gone before the survivor reads, and it must get some.
                publish(publisher, orders.subList(MESSAGES / 10, MESSAGES), published);
                assertEquals(MESSAGES, published.size());
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(10))
                        .until(() -> client.scard(RecordingOrders.HANDLED_BY + "survivor") > 0);
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5))
                        .until(() -> client.hlen(RecordingOrders.HANDLED) >= MESSAGES / 3);
                in.write("HANG\n");
                in.flush();
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("HANGING ")) {
                        hanging = line.substring("HANGING ".length());
                        break;
                    }
                }
                child.destroyForcibly(); // SIGKILL, while the handler runs
                killedAt = System.nanoTime();
                assertTrue(child.waitFor(30, TimeUnit.SECONDS));
                assertNotNull(hanging, "the child engine ended before it was killed");

                Set<String> heldByTheKilled = new HashSet<>();
                for (StreamPendingEntry p : client.xpending(RecordingOrders.STREAM, GROUP,
                        XPendingParams.xPendingParams("-", "+", 1000).consumer("doomed"))) {
                    heldByTheKilled.add(p.getID().toString());
                }
                long handledAtKill = client.hlen(RecordingOrders.HANDLED);

                long[] recoveredAt = {0};
                Deployment app = survivor;
                await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(10)).until(() -> {
                    if (recoveredAt[0] == 0 && heldByTheKilled.stream().allMatch(
                            id -> client.sismember(RecordingOrders.HANDLED_BY + "survivor", id))) {
                        recoveredAt[0] = System.nanoTime();
                    }
                    return recoveredAt[0] != 0 && client.hlen(RecordingOrders.HANDLED) == MESSAGES
                            && pending(client) == 0;
                });

                Map<String, String> counts = client.hgetAll(RecordingOrders.HANDLED);
                long handled = counts.values().stream().mapToLong(Long::parseLong).sum();
                Set<String> lost = new HashSet<>(published);
                lost.removeAll(counts.keySet());
                long byKilled = client.scard(RecordingOrders.HANDLED_BY + "doomed");
                long bySurvivor = client.scard(RecordingOrders.HANDLED_BY + "survivor");
                LoopStatus loop = Inspect.loop(app.engine(), RecordingOrders.STREAM, GROUP);
                System.out.printf("engine crash on redis: messages=%d, handled=%d, duplicates=%d, lost=%d; "
                                + "handled by the killed engine=%d, by the survivor=%d; handled when killed=%d; "
                                + "pending on the killed engine at the kill=%d; recovery time=%d ms "
                                + "(kill to all of them handled by the survivor; message-timeout %d ms)%n",
                        MESSAGES, handled, handled - counts.size(), lost.size(), byKilled, bySurvivor,
                        handledAtKill, heldByTheKilled.size(), (recoveredAt[0] - killedAt) / 1_000_000,
                        MESSAGE_TIMEOUT.toMillis());

                assertEquals(Set.of(), lost, "lost");
                assertTrue(heldByTheKilled.contains(hanging), "the message in hand was left pending by the kill");
                assertEquals("2", counts.get(hanging),
                        "the message in hand when killed was handled by the killed engine and again by the survivor");
                assertTrue(handledAtKill < MESSAGES, "work was left for the survivor");
                assertEquals(0, pending(client), "everything acknowledged");
                assertEquals(0L, client.xlen(RecordingOrders.STREAM + ":dlq"), "nothing dead-lettered");
                assertTrue(loop.healthy(), loop.toString());
                assertEquals(LoopStatus.State.RUNNING, loop.state());
            } finally {
                child.destroyForcibly();
                if (survivor != null) {
                    survivor.close();
                }
            }
            assertFalse(child.isAlive());
        }
    }

    private static void publish(Broker publisher, List<Map<String, Object>> orders, Set<String> ids) {
        for (int from = 0; from < orders.size(); from += 500) {
            ids.addAll(publisher.publishAll(RecordingOrders.STREAM, orders.subList(from,
                    Math.min(orders.size(), from + 500))));
        }
    }

    private static long pending(RedisClient client) {
        return client.xpending(RecordingOrders.STREAM, GROUP).getTotal();
    }
}
