package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.BrokerConnectionException;
import dev.courier.CapabilityTier;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.spi.BrokerSettings;
import dev.courier.internal.JsonCodec;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The redis_pubsub broker on a real redis-server: Protean's wire format, atomic positions, safe trimming. */
@WithRedis
class RedisListBrokerTest {

    static RedisServer redis;
    final List<Broker> opened = new ArrayList<>();
    final String stream = streamName();

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @AfterEach
    void close() {
        opened.forEach(Broker::close);
    }

    /** The list of a test; a subclass on a cluster gives it a hash tag. */
    String streamName() {
        return "list-" + System.nanoTime();
    }

    /** The uri of the brokers under test; {@link #redis} is the node that holds {@link #stream}. */
    String uri() {
        return redis.uri();
    }

    Broker broker(Map<String, String> options) {
        Map<String, String> all = new HashMap<>(Map.of("uri", uri()));
        all.putAll(options);
        Broker broker = new RedisPubSubBrokerProvider().create("notifications",
                new BrokerSettings("notifications", RedisPubSubBrokerProvider.NAME, all));
        opened.add(broker);
        return broker;
    }

    Broker broker() {
        return broker(Map.of());
    }

    static Map<String, Object> event(int n) {
        return Map.of("type", "email", "n", n);
    }

    static String text(Object reply) {
        return reply == null ? null : new String((byte[]) reply, StandardCharsets.UTF_8);
    }

    @Test
    void has_simple_queuing_and_nothing_more() {
        Broker broker = broker();
        assertEquals(CapabilityTier.SIMPLE_QUEUING, broker.tier());
        assertEquals(CapabilityTier.SIMPLE_QUEUING.capabilities(), broker.capabilities());
        assertEquals("redis_pubsub", broker.provider());
    }

    @Test
    void a_published_message_is_an_rpush_of_the_id_and_the_message_as_protean_writes_it() {
        String id = broker().publish(stream, Map.of("type", "email", "to", "user@example.com"));
        Object item = JsonCodec.parseValue(text(redis.command("LINDEX", stream, "0")));
        assertEquals(List.of(id, Map.of("type", "email", "to", "user@example.com")), item);
    }

    @Test
    void a_message_in_proteans_format_is_read_with_its_id() {
        redis.command("RPUSH", stream, "[\"3f1c-seed\", {\"event_type\": \"user.registered\", \"user_id\": \"123\"}]");
        Message message = broker().getNext(stream, "mailer").orElseThrow();
        assertEquals("3f1c-seed", message.id());
        assertEquals(Map.of("event_type", "user.registered", "user_id", "123"), message.payload());
        assertEquals("user.registered", message.type());
        assertEquals("1", text(redis.command("GET", "position:" + stream + ":mailer")));
    }

    @Test
    void two_groups_on_one_stream_each_see_every_message_in_order() {
        Broker broker = broker();
        List<String> ids = broker.publishAll(stream, IntStream.range(0, 30).mapToObj(RedisListBrokerTest::event)
                .toList());
        for (String group : List.of("a", "b")) {
            List<String> read = new ArrayList<>();
            List<Message> batch;
            while (!(batch = broker.read(stream, group, 7)).isEmpty()) {
                batch.forEach(m -> read.add(m.id()));
            }
            assertEquals(ids, read, "group " + group);
        }
    }

    @Test
    void reads_give_at_most_what_is_asked_and_nothing_on_an_empty_stream() {
        Broker broker = broker();
        assertTrue(broker.getNext(stream, "g").isEmpty());
        broker.publishAll(stream, List.of(event(1), event(2), event(3)));
        assertEquals(2, broker.read(stream, "g", 2).size());
        assertEquals(1, broker.read(stream, "g", 2).size());
        assertTrue(broker.read(stream, "g", 2).isEmpty());
    }

    @Test
    void an_invalid_message_is_refused_and_nothing_is_sent() {
        Broker broker = broker();
        assertThrows(IllegalArgumentException.class, () -> broker.publish(stream, Map.of()));
        assertThrows(IllegalArgumentException.class, () -> broker.publishAll(stream, List.of(event(1), "[]")));
        assertEquals(0L, redis.command("LLEN", stream));
    }

    @Test
    void groups_are_recorded_in_redis_and_seen_by_another_instance() {
        broker().publish(stream, event(1));
        broker().read(stream, "mailer", 10);
        assertEquals(List.of("mailer"), ((List<?>) redis.command("SMEMBERS", "consumer_groups:" + stream)).stream()
                .map(RedisListBrokerTest::text).toList());

        Broker other = broker();
        other.publish(stream, event(2)); // the other instance knows the stream, and learns the groups from Redis
        @SuppressWarnings("unchecked")
        Map<String, Object> streams = (Map<String, Object>) other.healthStats().details().get("streams");
        assertEquals(Map.of("length", 2L, "groups", Map.of("mailer", Map.of("position", 1L, "lag", 1L))),
                streams.get(stream));
    }

    @Test
    void malformed_items_are_skipped_with_a_warning_and_counted_and_the_next_good_one_is_read() {
        List<LogRecord> warnings = capture();
        redis.command("RPUSH", stream, "not-json", "{\"an\": \"object\"}", "[\"id-only\"]", "[\"\", {\"a\": 1}]");
        String good = broker().publish(stream, event(1));
        Broker broker = broker();
        List<Message> read = broker.read(stream, "g", 10);
        assertEquals(List.of(good), read.stream().map(Message::id).toList());
        assertEquals(4L, broker.healthStats().details().get("malformed_skipped"));
        assertEquals(4, warnings.stream().filter(r -> r.getMessage().contains("skipped an item")).count());
    }

    @Test
    void ack_and_nack_are_false_with_one_warning() {
        List<LogRecord> warnings = capture();
        Broker broker = broker();
        String id = broker.publish(stream, event(1));
        broker.read(stream, "g", 1);
        assertFalse(broker.ack(stream, id, "g"));
        assertFalse(broker.ack(stream, id, "g"));
        assertFalse(broker.nack(stream, id, "g"));
        assertEquals(1, warnings.stream().filter(r -> r.getMessage().contains(": ack does nothing")).count());
        assertEquals(1, warnings.stream().filter(r -> r.getMessage().contains(": nack does nothing")).count());
        assertFalse(broker.hasCapability(BrokerCapability.ACK_NACK));
    }

    @Test
    void trimming_never_removes_an_item_some_group_has_not_read() {
        Broker broker = broker();
        List<String> ids = broker.publishAll(stream, IntStream.range(0, 100).mapToObj(RedisListBrokerTest::event)
                .toList());
        assertEquals(0, broker.trim(stream, 10), "no group yet: every item is unread");
        assertEquals(60, broker.read(stream, "fast", 60).size());
        assertEquals(30, broker.read(stream, "slow", 30).size());

        assertEquals(30, broker.trim(stream, 10), "only what the slow group has read");
        assertEquals(70L, redis.command("LLEN", stream));
        // Both groups go on exactly where they were.
        assertEquals(ids.get(30), broker.getNext(stream, "slow").orElseThrow().id());
        assertEquals(ids.get(60), broker.getNext(stream, "fast").orElseThrow().id());
        List<String> rest = new ArrayList<>();
        List<Message> batch;
        while (!(batch = broker.read(stream, "slow", 50)).isEmpty()) {
            batch.forEach(m -> rest.add(m.id()));
        }
        assertEquals(ids.subList(31, 100), rest);
    }

    @Test
    void max_length_keeps_a_consumed_list_short_while_publishing() {
        Broker broker = broker(Map.of("max-length", "100"));
        for (int round = 0; round < 10; round++) {
            broker.publishAll(stream, IntStream.range(0, 100).mapToObj(RedisListBrokerTest::event).toList());
            int read = 0;
            while (read < 100) {
                read += broker.read(stream, "g", 100).size();
            }
        }
        long length = (Long) redis.command("LLEN", stream);
        assertTrue(length <= 200, "list length " + length);
    }

    @Test
    void four_consumers_on_two_jvms_in_one_group_get_each_of_20000_messages_exactly_once() throws Exception {
        int total = 20_000;
        Path childOut = ListConsumer.tempFile();
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), ListConsumer.class.getName(),
                redis.uri(), stream, "workers", "2", Integer.toString(total), childOut.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        // Publish only once the other JVM is consuming, so that both take part.
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream(),
                StandardCharsets.UTF_8))) {
            assertEquals(ListConsumer.READY, out.readLine());
        }
        CompletableFuture<List<String>> local = CompletableFuture.supplyAsync(() -> {
            try {
                return ListConsumer.consume(redis.uri(), stream, "workers", 2, total);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Broker publisher = broker();
        Set<String> published = new HashSet<>();
        for (int chunk = 0; chunk < total / 500; chunk++) {
            int base = chunk * 500;
            published.addAll(publisher.publishAll(stream, IntStream.range(base, base + 500)
                    .mapToObj(RedisListBrokerTest::event).toList()));
        }
        assertTrue(child.waitFor(120, TimeUnit.SECONDS), "child consumers finished");
        assertEquals(0, child.exitValue());
        List<String> delivered = new ArrayList<>(local.get(120, TimeUnit.SECONDS));
        int inThisJvm = delivered.size();
        delivered.addAll(Files.readAllLines(childOut));
        Set<String> distinct = new HashSet<>(delivered);
        Set<String> lost = new HashSet<>(published);
        lost.removeAll(distinct);
        System.out.printf("redis_pubsub: published=%d delivered=%d (this JVM %d, other JVM %d) duplicates=%d "
                + "lost=%d%n", published.size(), delivered.size(), inThisJvm, delivered.size() - inThisJvm,
                delivered.size() - distinct.size(), lost.size());
        assertEquals(total, published.size());
        assertEquals(total, delivered.size(), "each delivered once");
        assertEquals(published, distinct, "none skipped");
        assertTrue(inThisJvm > 0 && delivered.size() - inThisJvm > 0, "both JVMs took part");
    }

    @Test
    void an_acl_user_with_the_documented_commands_publishes_reads_and_trims() {
        // The rules README gives for this provider, on this test's stream.
        redis.command("ACL", "SETUSER", "notifier", "on", ">n0tify", "resetkeys", "~" + stream,
                "~position:" + stream + ":*", "~consumer_groups:" + stream, "-@all", "+ping", "+info",
                "+client|setname", "+rpush", "+llen", "+smembers", "+get", "+eval", "+evalsha", "+sadd", "+lrange",
                "+incrby", "+ltrim", "+decrby");
        Broker broker = broker(Map.of("uri", redis.uri("notifier", "n0tify")));
        List<String> ids = broker.publishAll(stream, List.of(event(1), event(2)));
        assertEquals(ids.get(0), broker.getNext(stream, "g").orElseThrow().id());
        assertEquals(1, broker.trim(stream, 0));
        assertEquals(ids.get(1), broker.getNext(stream, "g").orElseThrow().id());
        assertTrue(broker.healthStats().healthy());
    }

    @Test
    void health_and_info_never_show_the_password() {
        redis.command("ACL", "SETUSER", "lists", "on", ">s3cret-pw", "~*", "&*", "+@all");
        Broker broker = broker(Map.of("uri", redis.uri("lists", "s3cret-pw")));
        broker.publish(stream, event(1));
        broker.read(stream, "g", 1);
        HealthStats stats = broker.healthStats();
        assertTrue(stats.healthy(), stats.toString());
        assertFalse(stats.toString().contains("s3cret-pw"), stats.toString());
        assertFalse(broker.info().toString().contains("s3cret-pw"), broker.info().toString());
    }

    @Test
    void publish_to_an_unreachable_redis_fails_with_a_connection_error_naming_no_password() {
        Broker broker = broker(Map.of("uri", "redis://user:s3cret-pw@127.0.0.1:1/0", "connect-timeout", "0.5"));
        BrokerConnectionException e = assertThrows(BrokerConnectionException.class,
                () -> broker.publish(stream, event(1)));
        assertTrue(e.getMessage().contains("redis://***@127.0.0.1:1/0"), e.getMessage());
        assertFalse(e.getMessage().contains("s3cret-pw"), e.getMessage());
        assertFalse(broker.ping());
        assertEquals(HealthStats.Status.UNHEALTHY, broker.healthStats().status());
    }

    /** Warnings logged under dev.courier from now until the test ends. */
    List<LogRecord> capture() {
        List<LogRecord> records = new java.util.concurrent.CopyOnWriteArrayList<>();
        Logger logger = Logger.getLogger("dev.courier");
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                String text = record.getParameters() == null ? record.getMessage()
                        : java.text.MessageFormat.format(record.getMessage(), record.getParameters());
                LogRecord copy = new LogRecord(record.getLevel(), text);
                records.add(copy);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(handler);
        opened.add(new FixedCloser(() -> logger.removeHandler(handler)));
        return records;
    }

    /** Runs an action when the test's brokers are closed. */
    private static final class FixedCloser extends dev.courier.testing.FixedBroker {
        private final Runnable action;

        FixedCloser(Runnable action) {
            super("closer", "closer", Set.of());
            this.action = action;
        }

        @Override
        public void close() {
            action.run();
        }
    }

    @Test
    void a_message_over_max_message_size_is_refused_on_publish_and_a_larger_item_is_skipped_unparsed() {
        Broker broker = broker(Map.of("max-message-size", "1KB"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> broker.publish(stream, Map.of("text", "x".repeat(1024))));
        assertEquals("message is 1035 bytes of JSON, more than brokers.notifications.max-message-size (1024 bytes); "
                + "nothing was sent", e.getMessage());
        assertEquals(0L, redis.command("LLEN", stream));

        String fits = broker.publish(stream, Map.of("text", "x".repeat(1013))); // 1024 bytes: an item of 1065
        redis.command("RPUSH", stream, "[\"id-large\", {\"text\": \"" + "x".repeat(2000) + "\"}]");
        String good = broker.publish(stream, event(1));
        assertEquals(List.of(fits, good), broker.read(stream, "g", 10).stream().map(Message::id).toList());
        assertEquals(1L, broker.healthStats().details().get("malformed_skipped"));
    }
}
