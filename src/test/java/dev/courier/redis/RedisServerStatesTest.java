package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerConnectionException;
import dev.courier.PartialPublishException;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a publish reports while Redis cannot take it: out of memory ({@code maxmemory}, {@code noeviction}) in the
 * middle of a pipelined batch, and loading its data after a restart ({@code LOADING}, slowed down by
 * {@code key-load-delay} so that loading lasts seconds).
 */
@WithRedis(controllable = true, args = {"--maxmemory-policy", "noeviction", "--key-load-delay", "500",
        "--loading-process-events-interval-bytes", "1024", "--enable-debug-command", "local"})
class RedisServerStatesTest {

    private static Broker broker(RedisServer redis, String socketTimeout) {
        return new RedisBrokerProvider().create("states", RedisBrokerContractTest.settings(redis.uri(),
                new dev.courier.spi.RetryPolicy(3, Duration.ofMillis(100), 2.0, Duration.ofSeconds(30), true),
                Map.of("connect-timeout", "1", "socket-timeout", socketTimeout)));
    }

    @Test
    void publish_all_under_an_out_of_memory_reply_tells_which_messages_were_stored_with_their_ids(RedisServer redis) {
        String stream = "oom-" + System.nanoTime();
        String padding = "x".repeat(2_000);
        List<Map<String, Object>> messages = IntStream.range(0, 500)
                .mapToObj(i -> Map.<String, Object>of("n", i, "padding", padding)).toList();
        try (Broker broker = broker(redis, "2")) {
            broker.publish(stream, Map.of("n", -1));
            long used = Long.parseLong(info(redis, "used_memory"));
            redis.command("CONFIG", "SET", "maxmemory", Long.toString(used + 300_000));
            PartialPublishException e;
            try {
                e = assertThrows(PartialPublishException.class, () -> broker.publishAll(stream, messages));
            } finally {
                redis.command("CONFIG", "SET", "maxmemory", "0");
            }
            System.out.println("publishAll under maxmemory: " + e.getMessage());
            assertFalse(e.storedIds().isEmpty(), "some were stored before memory ran out");
            assertFalse(e.notStored().isEmpty());
            Set<Integer> all = new HashSet<>(e.storedIds().keySet());
            all.addAll(e.notStored());
            assertEquals(messages.size(), all.size(), "every index is either stored or not");
            assertEquals(messages.size(), e.storedIds().size() + e.notStored().size());
            assertTrue(e.getMessage().contains("OOM"), e.getMessage());

            // What Redis holds is exactly what the exception says was stored, under the ids it gives.
            List<Object> entries = castList(redis.command("XRANGE", stream, "-", "+"));
            List<String> ids = new ArrayList<>();
            List<Integer> ns = new ArrayList<>();
            for (Object entry : entries.subList(1, entries.size())) {
                ids.add(text(castList(entry).get(0)));
                String json = text(castList(castList(entry).get(1)).get(1));
                ns.add(Integer.parseInt(json.replaceAll(".*\"n\":(\\d+).*", "$1")));
            }
            assertEquals(new ArrayList<>(e.storedIds().values()), ids);
            assertEquals(new ArrayList<>(e.storedIds().keySet()), ns);
            // The ones not stored can be published again, now that there is memory.
            List<Map<String, Object>> rest = e.notStored().stream().map(messages::get).toList();
            assertEquals(rest.size(), broker.publishAll(stream, rest).size());
            assertEquals(messages.size() + 1L, (Long) redis.command("XLEN", stream));
        } finally {
            redis.command("DEL", stream);
        }
    }

    @Test
    void while_redis_loads_its_data_commands_are_retried_within_the_timeout_then_a_connection_error(RedisServer redis) {
        String stream = "loading-" + System.nanoTime();
        // 10,000 keys at 500 µs each: loading takes about 5 s.
        redis.command("DEBUG", "POPULATE", "10000", "loading-key");
        redis.command("SAVE");
        redis.stop();
        redis.startWithoutWaiting();
        // Brokers made now: a pool made before the restart would first find its connections closed.
        try (Broker impatient = broker(redis, "0.5"); Broker patient = broker(redis, "30")) {
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
                    .until(() -> info(redis, "loading").equals("1"));

            long start = System.nanoTime();
            BrokerConnectionException e = assertThrows(BrokerConnectionException.class,
                    () -> impatient.publish(stream, Map.of("n", 1)));
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertThrows(BrokerConnectionException.class, () -> impatient.read(stream, "g", 10));
            assertTrue(e.getMessage().contains("LOADING"), e.getMessage());
            assertTrue(ms >= 450, "retried for the socket timeout, not given up at once: " + ms + " ms");
            assertEquals("1", info(redis, "loading"), "the test needs Redis still loading here");

            // Within a longer timeout, the same publish waits the loading out and succeeds.
            String id = patient.publish(stream, Map.of("n", 2));
            assertEquals("0", info(redis, "loading"));
            System.out.println("while Redis loads: " + e.getMessage() + " after " + ms + " ms; with socket-timeout"
                    + " 30 s the publish succeeded as " + id + " after " + (System.nanoTime() - start) / 1_000_000
                    + " ms");
            assertEquals(List.of(2), patient.read(stream, "g", 10).stream()
                    .map(m -> m.payload().get("n")).toList());
        } finally {
            redis.command("FLUSHALL");
        }
    }

    private static String info(RedisServer redis, String field) {
        String info = text(redis.command("INFO"));
        return info.lines().filter(l -> l.startsWith(field + ":")).findFirst().orElseThrow().split(":")[1].trim();
    }

    private static String text(Object reply) {
        return new String((byte[]) reply, java.nio.charset.StandardCharsets.UTF_8);
    }

    @SuppressWarnings("unchecked")
    private static List<Object> castList(Object o) {
        return (List<Object>) o;
    }
}
