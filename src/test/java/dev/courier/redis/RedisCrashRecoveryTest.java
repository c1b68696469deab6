package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.Message;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A consumer in another JVM is killed with SIGKILL in the middle of a batch; a second consumer of the same group
 * delivers every entry the first had not acknowledged, and none of the 10,000 messages is lost.
 */
@WithRedis
class RedisCrashRecoveryTest {

    private static final int MESSAGES = 10_000;
    private static final Duration MESSAGE_TIMEOUT = Duration.ofSeconds(1);

    @Test
    void a_killed_consumers_unacknowledged_entries_are_delivered_to_the_survivor(RedisServer redis) throws Exception {
        String stream = "crash-" + System.nanoTime();
        String group = "workers";
        RetryPolicy policy = new RetryPolicy(3, Duration.ofMillis(100), 2.0, MESSAGE_TIMEOUT, true);
        try (Broker survivor = new RedisBrokerProvider().create("survivor", RedisBrokerContractTest.settings(
                redis.uri(), policy, Map.of("consumer-name", "survivor")))) {
            Set<String> published = new LinkedHashSet<>();
            List<Map<String, Object>> chunk = new ArrayList<>();
            for (int i = 0; i < MESSAGES; i++) {
                chunk.add(Map.of("event_type", "order.placed", "n", i));
                if (chunk.size() == 500) {
                    published.addAll(survivor.publishAll(stream, chunk));
                    chunk.clear();
                }
            }
            assertEquals(MESSAGES, published.size());

            Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"), CrashingConsumer.class.getName(),
                    redis.uri(), stream, group, "doomed", "4000", "100")
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            Set<String> ackedByChild = new HashSet<>();
            String last = null;
            try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("ACK ")) {
                        ackedByChild.add(line.substring(4));
                    } else if (line.startsWith("MID-BATCH")) {
                        last = line;
                        break;
                    }
                }
                child.destroyForcibly(); // SIGKILL
                assertTrue(child.waitFor(30, TimeUnit.SECONDS));
            }
            long killedAt = System.nanoTime();
            assertTrue(last != null, "the consumer died before it was killed");
            List<Object> summary = castList(redis.command("XPENDING", stream, group));
            long pendingAtKill = (Long) summary.get(0);
            Set<String> heldByTheKilled = new HashSet<>();
            for (Object entry : castList(redis.command("XPENDING", stream, group, "-", "+", "10000", "doomed"))) {
                heldByTheKilled.add(new String((byte[]) castList(entry).get(0), StandardCharsets.UTF_8));
            }

            // The survivor reads on, as the engine would, and acknowledges everything it gets.
            List<String> delivered = new ArrayList<>();
            long[] recoveredAt = {0};
            Set<String> unackedByChild = new HashSet<>(published);
            unackedByChild.removeAll(ackedByChild);
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(1)).until(() -> {
                for (Message m : survivor.read(stream, group, 200, Duration.ofMillis(200))) {
                    delivered.add(m.id());
                    survivor.ack(stream, m.id(), group);
                }
                if (recoveredAt[0] == 0 && new HashSet<>(delivered).containsAll(heldByTheKilled)) {
                    recoveredAt[0] = System.nanoTime();
                }
                return new HashSet<>(delivered).containsAll(unackedByChild);
            });
            Set<String> all = new HashSet<>(ackedByChild);
            all.addAll(delivered);
            Set<String> lost = new HashSet<>(published);
            lost.removeAll(all);
            long duplicated = delivered.size() - new HashSet<>(delivered).size()
                    + delivered.stream().filter(ackedByChild::contains).count();
            long recoveryMs = (recoveredAt[0] - killedAt) / 1_000_000;
            System.out.printf("crash recovery: messages=%d, acked by the killed consumer=%d, pending at the kill=%d "
                            + "(%s), delivered by the survivor=%d, lost=%d, duplicated=%d, recovery time=%d ms "
                            + "(message-timeout %d ms)%n",
                    MESSAGES, ackedByChild.size(), pendingAtKill, last, delivered.size(), lost.size(), duplicated,
                    recoveryMs, MESSAGE_TIMEOUT.toMillis());
            assertEquals(0, lost.size(), "lost");
            assertEquals(0, duplicated, "an entry the killed consumer acknowledged was delivered again");
            assertTrue(pendingAtKill > 0);
            assertEquals(pendingAtKill, heldByTheKilled.size());
            assertEquals(0L, (Long) castList(redis.command("XPENDING", stream, group)).get(0));
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Object> castList(Object o) {
        return (List<Object>) o;
    }
}
