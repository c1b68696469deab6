package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.Message;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Retention by age on a real redis-server: stream entries (ack-aware) and dead letters (by entry id time). */
@WithRedis
class RedisRetentionTest {

    static RedisServer redis;
    private final List<Broker> brokers = new ArrayList<>();
    String stream;

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @BeforeEach
    void newStream() {
        stream = streamName();
    }

    /** The stream of a test; a subclass on a cluster gives it a hash tag, so that its dead letters share its slot. */
    String streamName() {
        return "retention-" + UUID.randomUUID();
    }

    /** The uri of the brokers under test; {@link #redis} is the node that holds {@link #stream}. */
    String uri() {
        return redis.uri();
    }

    @AfterEach
    void close() {
        brokers.forEach(Broker::close);
    }

    private RedisBroker broker(int maxRetries, Map<String, String> options) {
        RedisBroker broker = (RedisBroker) new RedisBrokerProvider().create("test", RedisBrokerContractTest.settings(
                uri(), new RetryPolicy(maxRetries, Duration.ofSeconds(1), 2.0, Duration.ofSeconds(300), true),
                options));
        brokers.add(broker);
        return broker;
    }

    /** XADD with an id of a time in the past. */
    private String addAt(String key, Duration ago, int n) {
        long ms = System.currentTimeMillis() - ago.toMillis();
        return text(redis.command("XADD", key, ms + "-" + n, "data", "{\"n\":" + n + "}"));
    }

    private List<String> ids(String key) {
        List<String> ids = new ArrayList<>();
        for (Object entry : (List<?>) redis.command("XRANGE", key, "-", "+")) {
            ids.add(text(((List<?>) entry).get(0)));
        }
        return ids;
    }

    private static String text(Object reply) {
        return reply instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : String.valueOf(reply);
    }

    @Test
    void duration_retention_removes_only_entries_older_than_the_cutoff_that_every_group_acknowledged() {
        RedisBroker broker = broker(3, Map.of("retention", "PT1H", "consumer-name", "c"));
        broker.read(stream, "a", 1);
        broker.read(stream, "b", 1); // both groups exist before anything is added
        List<String> old = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            old.add(addAt(stream, Duration.ofHours(2), i));
        }
        List<String> young = List.of(broker.publish(stream, Map.of("n", 4)), broker.publish(stream, Map.of("n", 5)));

        List<Message> a = broker.read(stream, "a", 10);
        assertEquals(6, a.size());
        broker.ackAll(stream, a.stream().map(Message::id).toList(), "a");
        List<Message> b = broker.read(stream, "b", 3);
        broker.ack(stream, b.get(0).id(), "b");
        broker.ack(stream, b.get(2).id(), "b"); // the second stays pending

        broker.maintain();
        assertEquals(concat(old.subList(1, 4), young), ids(stream), "only the first: b has not acknowledged the 2nd");

        broker.ack(stream, b.get(1).id(), "b");
        broker.maintain();
        assertEquals(concat(old.subList(2, 4), young), ids(stream), "b has read no further than the 3rd");

        List<Message> rest = broker.read(stream, "b", 10);
        broker.ackAll(stream, rest.stream().map(Message::id).toList(), "b");
        broker.maintain();
        assertEquals(young, ids(stream), "acknowledged by both but younger than an hour: kept");
    }

    @Test
    void without_retention_nothing_of_the_stream_is_removed() {
        RedisBroker broker = broker(3, Map.of("consumer-name", "c"));
        broker.read(stream, "a", 1);
        String id = addAt(stream, Duration.ofDays(30), 0);
        broker.ack(stream, broker.read(stream, "a", 1).get(0).id(), "a");
        broker.maintain();
        assertEquals(List.of(id), ids(stream));
    }

    @Test
    void dead_letter_retention_removes_only_expired_dead_letters() {
        RedisBroker broker = broker(0, Map.of("consumer-name", "c"));
        String dlq = stream + RedisBroker.DLQ_SUFFIX;
        String eightDays = addAt(dlq, Duration.ofDays(8), 0);
        String sixDays = addAt(dlq, Duration.ofDays(6), 1);
        broker.publish(stream, Map.of("n", 2));
        Message m = broker.read(stream, "g", 1).get(0);
        assertTrue(broker.nack(stream, m.id(), "g")); // max-retries 0: dead-lettered now
        List<String> before = ids(dlq);
        assertEquals(3, before.size());

        Map<String, Long> depths = broker.maintain();

        assertEquals(Map.of(stream, 2L), depths);
        assertEquals(List.of(sixDays, before.get(2)), ids(dlq), "the 8-day-old one (of " + eightDays + ") only");
    }

    @Test
    void dead_letter_retention_follows_the_option() {
        RedisBroker broker = broker(0, Map.of("consumer-name", "c", "dead-letter-retention", "PT1H"));
        String dlq = stream + RedisBroker.DLQ_SUFFIX;
        broker.read(stream, "g", 1);
        addAt(dlq, Duration.ofMinutes(61), 0);
        String young = addAt(dlq, Duration.ofMinutes(59), 1);
        broker.maintain();
        assertEquals(List.of(young), ids(dlq));
        assertEquals(3_600_000L, broker.healthStats().details().get("dead_letter_retention_ms"));
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
