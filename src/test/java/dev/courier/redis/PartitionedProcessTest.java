package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.Watchdog;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static dev.courier.testing.Replies.list;
import static dev.courier.testing.Replies.text;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Partitioned consumption by engine JVMs of their own ({@link PartitionedInstance}): per-key order with one instance
 * SIGKILLed and one added mid-run, balance after the join, and a stalled owner (SIGSTOP past its lease) fenced.
 */
@WithRedis
class PartitionedProcessTest {

    /** The run is 2,000 keys and 100,000 messages: {@code -Dpartitioned.messages=100000}. */
    private static final int KEYS = 2_000;
    private static final int MESSAGES = Integer.getInteger("partitioned.messages", 20_000);

    private static RedisServer redis;
    private final List<Instance> instances = new ArrayList<>();
    private String category;
    private String group;

    @TempDir
    Path logs;

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @BeforeEach
    void names() {
        String id = UUID.randomUUID().toString().substring(0, 8);
        category = "orders-" + id;
        group = "app.OrderHandler" + id;
    }

    @AfterEach
    void stop() throws InterruptedException {
        for (Instance instance : instances) {
            instance.end();
        }
    }

    /** A JVM, its consumer name and log; ends with the test (standard input closed, Watchdog otherwise). */
    private final class Instance {
        final String name;
        final Process process;
        final Watchdog watchdog;
        final Path log;

        Instance(String name, String leaseTtl) throws IOException {
            this.name = name;
            this.log = logs.resolve(name + ".log");
            this.process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-Xmx256m",
                    "-cp", System.getProperty("java.class.path"), PartitionedInstance.class.getName(),
                    redis.uri(), name, category, group, leaseTtl, "8")
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            this.watchdog = Watchdog.arm(process, null);
            await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(log).contains("STARTED"));
        }

        void signal(String signal) throws IOException, InterruptedException {
            assertEquals(0, new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).start()
                    .waitFor());
        }

        void end() throws InterruptedException {
            if (process.isAlive()) {
                try {
                    signal("CONT");
                } catch (IOException | AssertionError ignored) {
                    // gone already
                }
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
            watchdog.disarm();
        }
    }

    private Instance start(String name, String leaseTtl) throws IOException {
        Instance instance = new Instance(name, leaseTtl);
        instances.add(instance);
        return instance;
    }

    private RedisBroker publisher() {
        Map<String, String> options = new HashMap<>(Map.of("partition-key." + category, "k"));
        return (RedisBroker) new RedisBrokerProvider().create("publisher",
                RedisBrokerContractTest.settings(redis.uri(), RetryPolicy.DEFAULT, options));
    }



    private long handled() {
        long total = 0;
        for (int k = 0; k < KEYS; k++) {
            total += (Long) redis.command("LLEN", "handled:" + category + "-" + k);
        }
        return total;
    }

    /** Keys per owner, from the lease values (owner ids start with the consumer name). */
    private Map<String, Integer> owners() {
        Map<String, Integer> owners = new HashMap<>();
        for (int k = 0; k < KEYS; k++) {
            Object token = redis.command("GET", group + ":" + category + "-" + k + ":__lease__");
            if (token != null) {
                owners.merge(text(token).substring(0, text(token).indexOf('-')), 1, Integer::sum);
            }
        }
        return owners;
    }

    @Test
    void three_instances_keep_each_keys_order_through_a_sigkill_and_a_join_and_then_balance() throws Exception {
        start("a", "2");
        start("b", "2");
        Instance doomed = start("c", "2");
        int perKey = MESSAGES / KEYS;
        try (Broker publisher = publisher()) {
            for (int n = 0; n < perKey; n++) {
                List<Map<String, Object>> batch = new ArrayList<>();
                for (int k = 0; k < KEYS; k++) {
                    batch.add(Map.of("k", category + "-" + k, "n", n));
                }
                publisher.publishAll(category, batch);
                if (n == perKey / 3) {
                    await().atMost(Duration.ofSeconds(60)).until(() -> handled() > MESSAGES / 4);
                    doomed.signal("KILL");
                    start("d", "2");
                }
            }
        }
        await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofSeconds(1))
                .until(() -> handled() >= MESSAGES);
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).until(() -> {
            for (int k = 0; k < KEYS; k++) {
                List<Object> pending = list(redis.command("XPENDING", category + ":" + category + "-" + k, group));
                if ((Long) pending.get(0) != 0) {
                    return false;
                }
            }
            return true;
        });
        // A key's messages are handed out several at once and acknowledged in batches, so an owner killed (or
        // fenced) after handling some of them leaves them pending: its successor handles them again, from the first
        // unacknowledged one on, in order. So a key's record may go back (a replay, counted as duplicates), but each
        // message comes right after the one before it, or starts a replay: anything else is an order violation.
        int violations = 0;
        int duplicates = 0;
        for (int k = 0; k < KEYS; k++) {
            List<Integer> ns = list(redis.command("LRANGE", "handled:" + category + "-" + k, "0", "-1")).stream()
                    .map(r -> Integer.parseInt(text(r))).toList();
            int expected = 0; // the first never handled
            int previous = -1; // the last handled: the next is the one after it, or an earlier one (a replay)
            for (int n : ns) {
                if (n < expected) {
                    duplicates++;
                }
                if (n > previous + 1) {
                    violations++; // one that came before it was skipped (new, or in a replay)
                }
                if (n == expected) {
                    expected++;
                }
                previous = n;
            }
            assertEquals(perKey, expected, "key " + k + ": every message handled, in order: " + ns);
        }
        assertEquals(0, violations, "per-key order violations");
        System.out.println("partitioned order run: " + MESSAGES + " messages over " + KEYS + " keys, "
                + duplicates + " handled twice (around the kill)");

        // Balance: a, b and d converge to a fair share (c is dead and its owner entry lapses).
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).until(() -> {
            Map<String, Integer> owners = owners();
            int fair = KEYS / 3;
            return owners.keySet().equals(java.util.Set.of("a", "b", "d")) && owners.values().stream()
                    .allMatch(n -> n >= fair * 0.8 && n <= fair * 1.2);
        });
    }

    @Test
    void a_stalled_owner_cannot_acknowledge_after_its_lease_moved() throws Exception {
        Instance a = start("a", "1");
        try (Broker publisher = publisher()) {
            publisher.publish(category, Map.of("k", "s", "n", 0, "sleep", 2_500));
            await().atMost(Duration.ofSeconds(30)).until(() -> (Long) redis.command("LLEN", "started:s") == 1);
            a.signal("STOP");
            Instance b = start("b", "1");
            // b takes the key once a's lease lapses, reclaims the entry under its own token and starts on it.
            await().atMost(Duration.ofSeconds(30)).until(() -> (Long) redis.command("LLEN", "started:s") == 2);
            String token = text(redis.command("GET", group + ":s:__lease__"));
            assertTrue(token.startsWith("b-"), token);
            a.signal("CONT");
            // a's handler ends while b's still runs: a's fenced ack is refused, the entry stays b's.
            await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(a.log).contains("fenced"));
            List<Object> pending = list(redis.command("XPENDING", category + ":s", group));
            assertEquals(1L, pending.get(0), "a acknowledged after its lease moved");
            assertEquals(token, text(list(list(pending.get(3)).get(0)).get(0)), "held by b's token");
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    (Long) list(redis.command("XPENDING", category + ":s", group)).get(0) == 0);
            assertTrue(Files.readString(b.log).contains("STARTED"));
        }
    }
}
