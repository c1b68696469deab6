package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.LocalRedisCluster;
import dev.courier.testing.RedisServer;
import dev.courier.testing.Watchdog;
import dev.courier.testing.WithRedis;
import dev.courier.testing.WithRedisCluster;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three application JVMs ({@link EngineProcess}) in one consumer group on a Redis Cluster share the work of a stream;
 * one is killed with SIGKILL in the middle of a handler: the other two reclaim what it held after
 * {@code message-timeout} (1 s), and every message is handled. The handlers record on a plain Redis of their own
 * ({@link WithRedis}), so that the three JVMs can be counted together.
 */
@WithRedis
@WithRedisCluster
class ClusterInstancesTest {

    private static final int MESSAGES = 6_000;
    private static final String GROUP = RecordingOrders.class.getName();
    private static final List<String> INSTANCES = List.of("instance-1", "instance-2", "instance-3");

    private static LocalRedisCluster cluster;

    @BeforeAll
    static void cluster(LocalRedisCluster started) {
        cluster = started;
    }

    @Test
    void three_instances_share_the_work_and_one_killed_loses_nothing(RedisServer recording) throws Exception {
        List<Process> instances = new ArrayList<>();
        List<Watchdog> watchdogs = new ArrayList<>();
        List<BufferedReader> outputs = new ArrayList<>();
        Set<String> published = new HashSet<>();
        try (RedisClient record = RedisClient.create(URI.create(recording.uri()));
             Broker publisher = new RedisBrokerProvider().create("publisher",
                     new BrokerSettings("publisher", RedisBrokerProvider.NAME, Map.of("uri", cluster.uri())))) {
            for (String name : INSTANCES) {
                Process instance = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java")
                        .toString(), "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                        "-cp", System.getProperty("java.class.path"), EngineProcess.class.getName(),
                        cluster.uri(), name, "1", recording.uri())
                        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
                instances.add(instance);
                watchdogs.add(Watchdog.arm(instance, null));
                outputs.add(new BufferedReader(new InputStreamReader(instance.getInputStream(),
                        StandardCharsets.UTF_8)));
            }
            for (BufferedReader output : outputs) {
                awaitLine(output, "STARTED");
            }
            // Half while all three consume, so that they share it; the doomed one is told to hang on its next
            // message, which the second half brings it.
            publish(publisher, 0, MESSAGES / 2, published);
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(10)).until(() -> INSTANCES.stream()
                    .allMatch(name -> record.scard(RecordingOrders.HANDLED_BY + name) > 0));
            Process doomed = instances.get(2);
            try (Writer in = new OutputStreamWriter(doomed.getOutputStream(), StandardCharsets.UTF_8)) {
                in.write("HANG\n");
                in.flush();
                publish(publisher, MESSAGES / 2, MESSAGES, published);
                String hanging = awaitLine(outputs.get(2), "HANGING ").substring("HANGING ".length());
                doomed.destroyForcibly(); // SIGKILL, in the middle of the handler
                long killedAt = System.nanoTime();
                assertTrue(doomed.waitFor(30, TimeUnit.SECONDS));
                long handledAtKill = record.hlen(RecordingOrders.HANDLED);

                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(10))
                        .until(() -> record.hlen(RecordingOrders.HANDLED) == MESSAGES && pending() == 0);
                long doneAt = System.nanoTime();

                Map<String, String> counts = record.hgetAll(RecordingOrders.HANDLED);
                long handled = counts.values().stream().mapToLong(Long::parseLong).sum();
                Set<String> lost = new HashSet<>(published);
                lost.removeAll(counts.keySet());
                List<Long> by = INSTANCES.stream().map(n -> record.scard(RecordingOrders.HANDLED_BY + n)).toList();
                System.out.printf("three instances on a cluster, one killed: messages=%d, handled=%d, duplicates=%d, "
                                + "lost=%d; handled by each %s; handled when killed=%d; kill to all handled %d ms "
                                + "(message-timeout 1 s)%n", MESSAGES, handled, handled - counts.size(), lost.size(),
                        by, handledAtKill, (doneAt - killedAt) / 1_000_000);

                assertEquals(Set.of(), lost, "lost");
                assertTrue(by.stream().allMatch(n -> n > 0), "every instance had a share: " + by);
                assertEquals("2", counts.get(hanging),
                        "the message in hand when killed was handled again by a survivor");
                assertTrue(handledAtKill < MESSAGES, "work was left for the survivors");
                assertEquals(0L, pending(), "everything acknowledged");
            }
        } finally {
            for (Process instance : instances) {
                instance.destroyForcibly();
                instance.waitFor(30, TimeUnit.SECONDS);
            }
            watchdogs.forEach(Watchdog::disarm);
        }
    }

    private static void publish(Broker publisher, int from, int to, Set<String> ids) {
        for (int start = from; start < to; start += 500) {
            List<Map<String, Object>> orders = new ArrayList<>();
            for (int n = start; n < Math.min(to, start + 500); n++) {
                orders.add(Map.of("event_type", "order.placed", "n", n));
            }
            ids.addAll(publisher.publishAll(RecordingOrders.STREAM, orders));
        }
    }

    /** Reads an instance's standard output until a line that starts with {@code prefix}; that line. */
    private static String awaitLine(BufferedReader out, String prefix) throws IOException {
        String line;
        while ((line = out.readLine()) != null) {
            if (line.startsWith(prefix)) {
                return line;
            }
        }
        throw new AssertionError("the instance ended before printing " + prefix);
    }

    private static long pending() {
        return (Long) ((List<?>) cluster.masterOf(RecordingOrders.STREAM)
                .command("XPENDING", RecordingOrders.STREAM, GROUP)).get(0);
    }
}
