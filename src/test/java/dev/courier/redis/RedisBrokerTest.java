package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerConfigurationException;
import dev.courier.BrokerConnectionException;
import dev.courier.DeadLetter;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the Redis Streams broker does beyond the shared contract: wire format, groups, recovery, trimming, options. */
@WithRedis
class RedisBrokerTest {

    private static RedisServer redis;
    private final List<Broker> brokers = new ArrayList<>();
    private String stream;

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @BeforeEach
    void newStream() {
        stream = "redis-" + UUID.randomUUID();
    }

    @AfterEach
    void close() {
        brokers.forEach(Broker::close);
    }

    private RedisBroker broker(RetryPolicy policy, Map<String, String> options) {
        RedisBroker broker = (RedisBroker) new RedisBrokerProvider()
                .create("test", RedisBrokerContractTest.settings(redis.uri(), policy, options));
        brokers.add(broker);
        return broker;
    }

    private RedisBroker broker(String consumer, Duration messageTimeout) {
        return broker(new RetryPolicy(3, Duration.ofMillis(100), 2.0, messageTimeout, true),
                Map.of("consumer-name", consumer));
    }

    private static String text(Object reply) {
        return reply instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : String.valueOf(reply);
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object reply) {
        return (List<Object>) reply;
    }

    private List<Message> awaitRead(Broker broker, String group, int atLeast) {
        List<Message> got = new ArrayList<>();
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20)).until(() -> {
            got.addAll(broker.read(stream, group, 100));
            return got.size() >= atLeast;
        });
        return got;
    }

    // Options

    @Test
    void declares_its_options_and_capabilities() {
        RedisBrokerProvider provider = new RedisBrokerProvider();
        assertEquals("redis", provider.name());
        assertTrue(provider.options().containsAll(RetryPolicy.OPTIONS));
        assertTrue(provider.options().containsAll(List.of("pool-size", "connect-timeout", "socket-timeout",
                "consumer-name", "max-length", "block-timeout", "tls-truststore", "tls-truststore-password",
                "tls-truststore-type", "tls-verify")));
        assertEquals(RedisBroker.CAPABILITIES, broker("c", Duration.ofSeconds(30)).capabilities());
        assertEquals(dev.courier.CapabilityTier.ENTERPRISE_STREAMING, broker("c", Duration.ofSeconds(30)).tier());
    }

    @Test
    void bad_settings_name_the_property_and_never_the_password() {
        RedisBrokerProvider provider = new RedisBrokerProvider();
        BrokerConfigurationException missing = assertThrows(BrokerConfigurationException.class,
                () -> provider.create("orders", new BrokerSettings("orders", "redis", Map.of())));
        assertEquals("brokers.orders.uri", missing.property());

        for (String uri : List.of("http://user:s3cr3t-pw@localhost:6379", "redis://user:s3cr3t-pw@localhost:6379/x",
                "redis://user:s3cr3t-pw@local host:6379")) {
            BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class,
                    () -> provider.create("orders", new BrokerSettings("orders", "redis", Map.of("uri", uri))));
            assertEquals("brokers.orders.uri", e.property());
            assertFalse(e.getMessage().contains("s3cr3t-pw"), e.getMessage());
            System.out.println("config error: " + e.getMessage());
        }
        Map<String, String> bad = new HashMap<>(Map.of("uri", "redis://localhost:6379"));
        bad.put("pool-size", "0");
        BrokerConfigurationException pool = assertThrows(BrokerConfigurationException.class,
                () -> provider.create("orders", new BrokerSettings("orders", "redis", bad)));
        assertEquals("brokers.orders.pool-size", pool.property());
        assertTrue(pool.getMessage().contains("'0'"), pool.getMessage());
        bad.remove("pool-size");
        bad.put("block-timeout", "soon");
        assertEquals("brokers.orders.block-timeout", assertThrows(BrokerConfigurationException.class,
                () -> provider.create("orders", new BrokerSettings("orders", "redis", bad))).property());
    }

    @Test
    void create_does_not_connect_and_an_unreachable_redis_raises_a_connection_error() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        Broker broker = new RedisBrokerProvider().create("down", new BrokerSettings("down", "redis",
                Map.of("uri", "redis://user:s3cr3t-pw@127.0.0.1:" + closedPort + "/0", "connect-timeout", "0.5")));
        brokers.add(broker);
        BrokerConnectionException e = assertThrows(BrokerConnectionException.class,
                () -> broker.publish(stream, Map.of("a", 1)));
        assertFalse(e.getMessage().contains("s3cr3t-pw"), e.getMessage());
        assertTrue(e.getMessage().contains("127.0.0.1:" + closedPort), e.getMessage());
        assertFalse(broker.ping());
        HealthStats health = broker.healthStats();
        assertEquals(HealthStats.Status.UNHEALTHY, health.status());
        assertFalse(health.toString().contains("s3cr3t-pw"));
        System.out.println("unreachable: " + e.getMessage());
    }

    // Wire format and groups

    @Test
    void wire_format_is_xadd_data_json_as_in_the_seeds_system() {
        RedisBroker broker = broker("c", Duration.ofSeconds(30));
        String id = broker.publish(stream, Map.of("event_type", "user.registered", "user_id", "123"));
        List<Object> entries = list(redis.command("XRANGE", stream, "-", "+"));
        List<Object> entry = list(entries.get(0));
        assertEquals(id, text(entry.get(0)));
        List<Object> fields = list(entry.get(1));
        assertEquals(2, fields.size());
        assertEquals("data", text(fields.get(0)));
        assertEquals(Map.of("event_type", "user.registered", "user_id", "123"),
                dev.courier.internal.JsonCodec.parse(text(fields.get(1))));

        // What another producer of Protean's format writes, extra fields and all, is read.
        String foreign = text(redis.command("XADD", stream, "*", "data", "{\"type\":\"email\"}", "extra", "x"));
        List<Message> read = broker.read(stream, "g", 10);
        assertEquals(List.of(id, foreign), read.stream().map(Message::id).toList());
    }

    @Test
    void a_group_created_by_another_client_first_is_used() {
        redis.command("XGROUP", "CREATE", stream, "g", "$", "MKSTREAM");
        RedisBroker broker = broker("c", Duration.ofSeconds(30));
        String id = broker.publish(stream, Map.of("a", 1));
        assertEquals(id, broker.getNext(stream, "g").orElseThrow().id());
    }

    @Test
    void a_deleted_stream_and_group_are_created_again() {
        RedisBroker broker = broker("c", Duration.ofSeconds(30));
        broker.publish(stream, Map.of("a", 1));
        assertEquals(1, broker.read(stream, "g", 10).size());
        redis.command("DEL", stream);
        String id = broker.publish(stream, Map.of("a", 2));
        assertEquals(List.of(id), broker.read(stream, "g", 10).stream().map(Message::id).toList());
    }

    @Test
    void malformed_entries_are_dead_lettered_and_do_not_block_the_next_ones() {
        RedisBroker broker = broker("c", Duration.ofSeconds(30));
        String notJson = text(redis.command("XADD", stream, "*", "data", "not-json"));
        String noData = text(redis.command("XADD", stream, "*", "payload", "{\"a\":1}"));
        String array = text(redis.command("XADD", stream, "*", "data", "[1,2]"));
        String good = broker.publish(stream, Map.of("ok", true));

        List<Message> read = broker.read(stream, "g", 10);
        assertEquals(List.of(good), read.stream().map(Message::id).toList());
        assertEquals(3, broker.deadLetterDepth(stream));
        List<DeadLetter> letters = broker.deadLetters(stream, 10);
        assertEquals(List.of(array, noData, notJson), letters.stream().map(l -> l.message().id()).toList());
        letters.forEach(l -> assertEquals(DeadLetter.MALFORMED, l.reason()));
        assertEquals("not-json", letters.get(2).message().payload().get("_raw"));
        // Acknowledged once dead-lettered: nothing pending but the good one.
        assertEquals(1L, list(redis.command("XPENDING", stream, "g")).get(0));
        System.out.println("malformed: " + letters.size() + " dead-lettered, next good entry read: " + good);
    }

    @Test
    void the_attempt_count_is_the_pel_delivery_count_and_survives_a_new_broker_object() {
        RedisBroker first = broker("instance-1", Duration.ofSeconds(30));
        String id = first.publish(stream, Map.of("a", 1));
        first.getNext(stream, "g").orElseThrow();
        assertTrue(first.nack(stream, id, "g"));
        first.close();

        RedisBroker second = broker("instance-1", Duration.ofSeconds(30));
        Message again = awaitRead(second, "g", 1).get(0);
        assertEquals(id, again.id());
        assertEquals(2, again.deliveryCount());
    }

    // Crash recovery and consumers

    @Test
    void entries_of_a_consumer_idle_longer_than_the_message_timeout_are_claimed_by_another() {
        RedisBroker crashed = broker("crashed", Duration.ofMillis(400));
        List<String> ids = crashed.publishAll(stream, List.of(Map.of("n", 1), Map.of("n", 2), Map.of("n", 3)));
        assertEquals(3, crashed.read(stream, "g", 10).size()); // and never acknowledged

        RedisBroker survivor = broker("survivor", Duration.ofMillis(400));
        long start = System.nanoTime();
        List<Message> claimed = awaitRead(survivor, "g", 3);
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertEquals(ids, claimed.stream().map(Message::id).toList());
        claimed.forEach(m -> assertEquals(2, m.deliveryCount()));
        System.out.println("reclaim: 3 entries of an idle consumer claimed after " + ms + " ms (message-timeout 400 ms)");
    }

    @Test
    void an_instance_that_runs_again_under_its_consumer_name_gets_what_it_held_at_once() {
        RedisBroker first = broker("instance-1", Duration.ofSeconds(300));
        List<String> ids = first.publishAll(stream, List.of(Map.of("n", 1), Map.of("n", 2), Map.of("n", 3)));
        List<Message> held = first.read(stream, "g", 3);
        first.ack(stream, held.get(0).id(), "g");
        assertEquals(List.of(), first.read(stream, "g", 10), "what a broker holds is not delivered to it again");
        RedisBroker other = broker("instance-2", Duration.ofSeconds(300));
        assertEquals(List.of(), other.read(stream, "g", 10), "nor to another name before message-timeout");
        first.close();

        RedisBroker again = broker("instance-1", Duration.ofSeconds(300));
        List<Message> redelivered = again.read(stream, "g", 1);
        assertEquals(List.of(ids.get(1)), redelivered.stream().map(Message::id).toList(), "a batch at a time");
        redelivered.addAll(again.read(stream, "g", 10));
        assertEquals(ids.subList(1, 3), redelivered.stream().map(Message::id).toList());
        redelivered.forEach(m -> assertEquals(2, m.deliveryCount()));
        assertEquals(List.of(), again.read(stream, "g", 10), "only once: the look at its own entries is over");
        redelivered.forEach(m -> assertTrue(again.ack(stream, m.id(), "g")));
    }

    @Test
    void a_left_over_entry_past_max_retries_is_dead_lettered_as_timed_out() {
        RetryPolicy policy = new RetryPolicy(0, Duration.ofMillis(100), 1.0, Duration.ofSeconds(300), true);
        RedisBroker first = broker(policy, Map.of("consumer-name", "instance-1"));
        String id = first.publish(stream, Map.of("a", 1));
        first.getNext(stream, "g").orElseThrow();
        RedisBroker again = broker(policy, Map.of("consumer-name", "instance-1"));
        assertEquals(List.of(), again.read(stream, "g", 10));
        DeadLetter letter = again.deadLetters(stream, 1).get(0);
        assertEquals(DeadLetter.TIMEOUT, letter.reason());
        assertEquals(id, letter.message().id());
    }

    @Test
    void an_entry_that_keeps_timing_out_is_dead_lettered_as_timed_out() {
        RetryPolicy policy = new RetryPolicy(0, Duration.ofMillis(100), 1.0, Duration.ofMillis(300), true);
        RedisBroker crashed = broker(policy, Map.of("consumer-name", "crashed"));
        String id = crashed.publish(stream, Map.of("a", 1));
        crashed.getNext(stream, "g").orElseThrow();
        RedisBroker survivor = broker(policy, Map.of("consumer-name", "survivor"));
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(() -> survivor.read(stream, "g", 10).isEmpty() && survivor.deadLetterDepth(stream) == 1);
        DeadLetter letter = survivor.deadLetters(stream, 1).get(0);
        assertEquals(DeadLetter.TIMEOUT, letter.reason());
        assertEquals(id, letter.message().id());
        assertEquals(1, letter.attempts());
        assertEquals("g", letter.group());
    }

    @Test
    void consumers_are_stable_and_idle_ones_are_removed_only_once_they_hold_nothing() {
        RedisBroker old = broker("old-instance", Duration.ofMillis(300));
        old.publishAll(stream, List.of(Map.of("n", 1), Map.of("n", 2)));
        List<Message> held = old.read(stream, "g", 1);
        old.ack(stream, held.get(0).id(), "g");
        old.read(stream, "g", 1); // held, never acknowledged: old-instance must not vanish with it

        RedisBroker current = broker("new-instance", Duration.ofMillis(300));
        for (int i = 0; i < 20; i++) {
            current.read(stream, "g", 10);
        }
        List<Message> claimed = awaitRead(current, "g", 1);
        assertEquals(2, claimed.get(0).payload().get("n"));
        current.ack(stream, claimed.get(0).id(), "g");
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(() -> {
            current.read(stream, "g", 10);
            return consumers("g").equals(List.of("new-instance"));
        });
    }

    private List<String> consumers(String group) {
        List<String> names = new ArrayList<>();
        for (Object c : list(redis.command("XINFO", "CONSUMERS", stream, group))) {
            List<Object> fields = list(c);
            names.add(text(fields.get(1)));
        }
        return names;
    }

    // Trimming

    @Test
    void trim_never_removes_what_a_group_has_not_read_or_acknowledged() {
        RedisBroker broker = broker("c", Duration.ofSeconds(30));
        List<Map<String, Object>> batch = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            batch.add(Map.of("n", i));
        }
        List<String> ids = broker.publishAll(stream, batch);
        List<Message> read = broker.read(stream, "g", 4);
        broker.ack(stream, read.get(0).id(), "g");
        broker.ack(stream, read.get(1).id(), "g"); // 3rd and 4th stay pending

        assertEquals(2, broker.trim(stream, 2));
        assertEquals(ids.subList(2, 10), list(redis.command("XRANGE", stream, "-", "+")).stream()
                .map(e -> text(list(e).get(0))).toList());

        broker.read(stream, "late", 1); // a group that has read only the first remaining entry
        broker.ack(stream, ids.get(2), "late");
        assertEquals(0, broker.trim(stream, 2));
        assertEquals(8L, redis.command("XLEN", stream));
    }

    @Test
    void trim_without_groups_keeps_about_max_length() {
        RedisBroker broker = broker("c", Duration.ofSeconds(30));
        List<Map<String, Object>> batch = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            batch.add(Map.of("n", i));
        }
        broker.publishAll(stream, batch);
        long removed = broker.trim(stream, 100);
        long length = (Long) redis.command("XLEN", stream);
        assertEquals(1000 - removed, length);
        assertTrue(length >= 100 && length < 1000, "length " + length);
        assertEquals(0, broker.trim(stream, 5000));
    }

    @Test
    void max_length_trims_while_publishing_but_keeps_unread_entries() {
        RedisBroker broker = broker(RetryPolicy.DEFAULT, Map.of("max-length", "20", "consumer-name", "c"));
        broker.read(stream, "g", 1); // the group exists and has read nothing
        for (int i = 0; i < 100; i++) {
            broker.publish(stream, Map.of("n", i));
        }
        assertEquals(100L, redis.command("XLEN", stream), "nothing unread was removed");
        List<Message> all = new ArrayList<>();
        List<Message> batch;
        while (!(batch = broker.read(stream, "g", 50)).isEmpty()) {
            all.addAll(batch);
        }
        all.forEach(m -> broker.ack(stream, m.id(), "g"));
        for (int i = 0; i < 10; i++) {
            broker.publish(stream, Map.of("n", i));
        }
        long length = (Long) redis.command("XLEN", stream);
        assertTrue(length <= 30, "length " + length);
    }

    // Blocking reads, connections, health

    @Test
    void a_blocking_read_is_capped_by_the_block_timeout() {
        RedisBroker broker = broker(RetryPolicy.DEFAULT, Map.of("block-timeout", "0.2"));
        long start = System.nanoTime();
        assertTrue(broker.read(stream, "g", 1, Duration.ofSeconds(10)).isEmpty());
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertTrue(ms >= 150 && ms < 2000, ms + " ms");
    }

    @Test
    void after_close_operations_connect_again() {
        RedisBroker broker = broker("c", Duration.ofSeconds(30));
        broker.publish(stream, Map.of("a", 1));
        broker.close();
        broker.publish(stream, Map.of("a", 2));
        assertEquals(2, broker.read(stream, "g", 10).size());
    }

    @Test
    void info_and_health_describe_redis_streams_and_groups() {
        RedisBroker broker = broker("c", Duration.ofSeconds(30));
        broker.publishAll(stream, List.of(Map.of("n", 1), Map.of("n", 2), Map.of("n", 3)));
        Message m = broker.read(stream, "g", 1).get(0);
        broker.nack(stream, m.id(), "g");

        Map<String, Object> info = broker.info();
        assertEquals(redis.version(), info.get("redis_version"));
        assertEquals("master", info.get("role"));
        assertTrue((Long) info.get("used_memory") > 0);
        assertTrue((Long) info.get("connected_clients") >= 1);
        @SuppressWarnings("unchecked")
        Map<String, Object> s = (Map<String, Object>) ((Map<String, Object>) info.get("streams")).get(stream);
        assertEquals(3L, s.get("length"));
        assertEquals(1L, s.get("pending"));
        assertEquals(0L, s.get("dlq_depth"));
        @SuppressWarnings("unchecked")
        Map<String, Object> g = (Map<String, Object>) ((Map<String, Object>) s.get("groups")).get("g");
        assertEquals(2L, g.get("lag")); // XINFO GROUPS has lag from 7.0; before, Courier counts it
        assertTrue(g.get("consumers").toString().contains("courier-retry"), g.toString());

        HealthStats health = broker.healthStats();
        assertEquals(HealthStats.Status.HEALTHY, health.status());
        assertEquals(redis.version(), health.details().get("redis_version"));
        assertEquals(3, health.messageCounts().total());
        assertEquals(1, health.messageCounts().inFlight());
        assertEquals(1, health.messageCounts().failed());
        System.out.println("info: " + info);
    }

    @Test
    void consumer_name_defaults_to_host_and_process() {
        String name = dev.courier.spi.BrokerSettings.defaultConsumerName();
        assertTrue(name.endsWith("-" + ProcessHandle.current().pid()), name);
        RedisBroker broker = broker(RetryPolicy.DEFAULT, Map.of());
        assertEquals(name, broker.consumer());
    }

    @Test
    void is_entry_id_tells_what_xack_would_take() {
        for (String id : new String[] {"0", "0-0", "1700000000000-12", "18446744073709551615-18446744073709551615"}) {
            assertTrue(RedisBroker.isEntryId(id), id);
        }
        for (String id : new String[] {"", "-", "1-", "-1", "a-1", "1-a", "1-2-3", " 1-2", "18446744073709551616-0",
                "1-123456789012345678901"}) {
            assertFalse(RedisBroker.isEntryId(id), id);
        }
    }

    @Test
    void id_before_gives_the_position_just_before_an_id() {
        assertEquals("0", RedisBroker.idBefore("0"));
        assertEquals("0", RedisBroker.idBefore("0-0"));
        assertEquals("5-2", RedisBroker.idBefore("5-3"));
        assertEquals("4-18446744073709551615", RedisBroker.idBefore("5-0"));
        assertEquals("4-18446744073709551615", RedisBroker.idBefore("5"));
        assertEquals(null, RedisBroker.idBefore("x-1"));
    }

    @Test
    void concurrent_publishes_share_round_trips_yet_each_gets_its_own_id_or_error() throws Exception {
        RedisBroker broker = broker(RetryPolicy.DEFAULT, Map.of());
        String notAStream = stream + "-string";
        redis.command("SET", notAStream, "x");
        int threads = 16;
        int each = 200;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            List<java.util.concurrent.Future<List<String>>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    List<String> ids = new ArrayList<>();
                    for (int i = 0; i < each; i++) {
                        if (i % 50 == 7) {
                            // A WRONGTYPE reply for this entry alone, in the middle of others' entries.
                            var e = assertThrows(RedisConnection.RedisReplyException.class,
                                    () -> broker.publish(notAStream, Map.of("n", 0)));
                            assertTrue(e.reply().startsWith("WRONGTYPE"), e.reply());
                        }
                        ids.add(broker.publish(stream, Map.of("thread", thread, "i", i)));
                    }
                    return ids;
                }));
            }
            java.util.Set<String> all = new java.util.HashSet<>();
            List<List<String>> byThread = new ArrayList<>();
            for (var future : futures) {
                List<String> ids = future.get(60, java.util.concurrent.TimeUnit.SECONDS);
                byThread.add(ids);
                for (int i = 1; i < ids.size(); i++) {
                    assertTrue(new redis.clients.jedis.StreamEntryID(ids.get(i - 1))
                            .compareTo(new redis.clients.jedis.StreamEntryID(ids.get(i))) < 0,
                            "one thread's messages are added in its order");
                }
                all.addAll(ids);
            }
            assertEquals(threads * each, all.size(), "distinct ids, one per publish");
            assertEquals((long) threads * each, (Long) redis.command("XLEN", stream));
            // Each id is the entry holding that publish's message.
            List<Message> read = new ArrayList<>();
            List<Message> batch;
            while (!(batch = broker.read(stream, "check", 1000)).isEmpty()) {
                read.addAll(batch);
            }
            assertEquals(threads * each, read.size());
            for (Message m : read) {
                assertEquals(byThread.get((Integer) m.payload().get("thread")).get((Integer) m.payload().get("i")),
                        m.id(), "the id a publish returned is that of the entry holding its message");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void health_is_degraded_while_redis_rejects_connections() throws Exception {
        RedisBroker broker = broker(RetryPolicy.DEFAULT, Map.of());
        assertEquals(HealthStats.Status.HEALTHY, broker.healthStats().status());
        long clients = java.util.Arrays.stream(new String((byte[]) redis.command("INFO", "clients"),
                        java.nio.charset.StandardCharsets.UTF_8).split("\r?\n"))
                .filter(l -> l.startsWith("connected_clients:")).mapToLong(l -> Long.parseLong(l.substring(18).trim()))
                .findFirst().orElseThrow();
        // Room for one more client (this test's own command connection is gone by then): a second is refused.
        redis.command("CONFIG", "SET", "maxclients", Long.toString(clients));
        try (java.net.Socket held = new java.net.Socket(redis.host(), redis.port());
             java.net.Socket refused = new java.net.Socket(redis.host(), redis.port())) {
            refused.getOutputStream().write("PING\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String reply = new java.io.BufferedReader(new java.io.InputStreamReader(refused.getInputStream(),
                    java.nio.charset.StandardCharsets.US_ASCII)).readLine();
            assertTrue(reply.contains("max number of clients"), reply);
            HealthStats health = broker.healthStats();
            assertEquals(HealthStats.Status.DEGRADED, health.status(), health.toString());
            assertEquals("rejecting connections", health.details().get("reason"));
            assertTrue(health.connected());
        } finally {
            await().atMost(Duration.ofSeconds(5)).ignoreExceptions()
                    .until(() -> redis.command("CONFIG", "SET", "maxclients", "10000") != null);
        }
        assertEquals(HealthStats.Status.HEALTHY, broker.healthStats().status(), "not sticky");
    }

    @Test
    void a_message_over_max_message_size_is_refused_on_publish_and_nothing_is_sent() {
        RedisBroker broker = broker(RetryPolicy.DEFAULT, Map.of("max-message-size", "1KB"));
        String big = "x".repeat(1024);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> broker.publish(stream, Map.of("text", big)));
        assertEquals("message is 1035 bytes of JSON, more than brokers.test.max-message-size (1024 bytes); "
                + "nothing was sent", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> broker.publish(stream, "{\"text\": \"" + big + "\"}"));
        assertThrows(IllegalArgumentException.class,
                () -> broker.publishAll(stream, List.of(Map.of("a", 1), Map.of("text", big))));
        assertEquals(0L, redis.command("XLEN", stream));
    }

    @Test
    void an_entry_over_max_message_size_is_dead_lettered_too_large_with_its_data_and_the_next_one_is_read() {
        RedisBroker broker = broker(RetryPolicy.DEFAULT, Map.of("max-message-size", "1KB"));
        String data = "{\"text\":\"" + "x".repeat(2000) + "\"}";
        String large = text(redis.command("XADD", stream, "*", "data", data));
        String good = broker.publish(stream, Map.of("ok", true));

        assertEquals(List.of(good), broker.read(stream, "g", 10).stream().map(Message::id).toList());
        DeadLetter letter = broker.deadLetters(stream, 10).get(0);
        assertEquals(DeadLetter.TOO_LARGE, letter.reason());
        assertEquals(large, letter.message().id());
        assertEquals(Map.of("text", "x".repeat(2000)), letter.message().payload(), "kept whole");
        List<Object> entry = list(list(redis.command("XRANGE", stream + ":dlq", "-", "+")).get(0));
        String letterData = text(list(entry.get(1)).get(1));
        assertTrue(letterData.startsWith(data.substring(0, data.length() - 1) + ",\"_dlq_metadata\":{"),
                "the text as it was written, with the metadata spliced in: " + letterData.substring(2000));
    }

    @Test
    void an_entry_over_max_message_size_that_comes_back_for_a_retry_is_dead_lettered_too_large() {
        // Written while the limit was larger: read, rejected, and met again (as text) on its retry.
        RedisBroker before = broker(new RetryPolicy(3, Duration.ofMillis(10), 1.0, Duration.ofSeconds(30), true),
                Map.of("consumer-name", "c"));
        String id = before.publish(stream, Map.of("text", "x".repeat(2000)));
        assertEquals(id, before.getNext(stream, "g").orElseThrow().id());
        assertTrue(before.nack(stream, id, "g"));
        before.close();

        RedisBroker after = broker(new RetryPolicy(3, Duration.ofMillis(10), 1.0, Duration.ofSeconds(30), true),
                Map.of("consumer-name", "c", "max-message-size", "1KB"));
        await().atMost(Duration.ofSeconds(10)).until(() -> after.read(stream, "g", 10).isEmpty()
                && after.deadLetterDepth(stream) == 1);
        assertEquals(DeadLetter.TOO_LARGE, after.deadLetters(stream, 1).get(0).reason());
    }

    @Test
    void nan_and_the_infinities_as_python_writes_them_are_delivered() {
        RedisBroker broker = broker(RetryPolicy.DEFAULT, Map.of());
        redis.command("XADD", stream, "*", "data", "{\"x\": NaN, \"y\": Infinity, \"z\": -Infinity}");
        Message message = broker.getNext(stream, "g").orElseThrow();
        assertEquals(Double.NaN, message.payload().get("x"));
        assertEquals(Double.POSITIVE_INFINITY, message.payload().get("y"));
        assertEquals(Double.NEGATIVE_INFINITY, message.payload().get("z"));
        assertEquals(0, broker.deadLetterDepth(stream));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> broker.publish(stream, message.payload()));
        assertEquals("message.x is NaN, which JSON cannot represent", e.getMessage());
    }
}
