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

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.courier.testing.Replies.list;
import static dev.courier.testing.Replies.text;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Leases on the wire: Courier's keys and values are Protean's, byte for byte, and a lease taken by plain-Jedis
 * scripts written to Protean's rules (reference, section 3) is respected.
 */
@WithRedis
class PartitionLeasesTest {

    /** Protean's acquire, as the reference describes it. */
    static final String PROTEAN_ACQUIRE = """
            if redis.call('GET', KEYS[1]) then return nil end
            local g = redis.call('INCR', KEYS[2])
            redis.call('SET', KEYS[1], ARGV[1] .. ':' .. g, 'PX', ARGV[2])
            return g
            """;
    private static final String PROTEAN_RELEASE = """
            if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
            return 0
            """;
    private static final String PROTEAN_FENCED_READ = """
            if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('FENCED') end
            return redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[1], 'COUNT', 1, 'STREAMS', KEYS[2], ARGV[3])
            """;

    private static RedisServer redis;
    private final List<Broker> brokers = new ArrayList<>();
    private String category;
    private String group;

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @BeforeEach
    void names() {
        String id = UUID.randomUUID().toString().substring(0, 8);
        category = "order-" + id;
        group = "app.handlers.OrderHandler" + id;
    }

    @AfterEach
    void close() {
        brokers.forEach(Broker::close);
    }

    private RedisBroker broker(String consumer) {
        RedisBroker broker = (RedisBroker) new RedisBrokerProvider().create("test", RedisBrokerContractTest.settings(
                redis.uri(), new RetryPolicy(3, Duration.ofMillis(50), 1.0, Duration.ofSeconds(30), true),
                Map.of("partition-key." + category, "k", "partition-lease-ttl", "1", "consumer-name", consumer)));
        brokers.add(broker);
        return broker;
    }



    private String get(String key) {
        Object value = redis.command("GET", key);
        return value == null ? null : text(value);
    }

    private List<Message> readUntil(Broker broker, int atLeast) {
        List<Message> got = new ArrayList<>();
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            got.addAll(broker.read(category, group, 100, Duration.ofMillis(100)));
            return got.size() >= atLeast;
        });
        return got;
    }

    @Test
    void scripts_write_proteans_lease_generation_and_token_keys() {
        RedisConnection connection = broker("c1").connection();
        PartitionLeases leases = new PartitionLeases(connection, group);
        String lease = group + ":k1:__lease__";
        String generation = group + ":k1:__generation__";

        List<String> first = leases.acquire("owner-a", List.of("k1", "k2"), 15_000);
        assertEquals(List.of("owner-a:1", "owner-a:1"), first);
        assertEquals("owner-a:1", get(lease));
        assertEquals("1", get(generation));
        long pttl = (Long) redis.command("PTTL", lease);
        assertTrue(pttl > 14_000 && pttl <= 15_000, "PX ttl, was " + pttl);

        assertEquals(java.util.Arrays.asList((String) null), leases.acquire("owner-b", List.of("k1"), 15_000),
                "a held lease is never taken");
        assertFalse(leases.release(List.of("k1"), List.of("owner-b:1"))[0], "only by compare-and-delete");
        assertTrue(leases.renew(List.of("k1"), List.of("owner-a:1"), 30_000)[0]);
        assertTrue((Long) redis.command("PTTL", lease) > 15_000);
        assertTrue(leases.release(List.of("k1"), List.of("owner-a:1"))[0]);
        assertNull(get(lease));
        assertEquals("1", get(generation), "the generation is never deleted");
        assertEquals(List.of("owner-b:2"), leases.acquire("owner-b", List.of("k1"), 15_000));
        assertEquals("2", get(generation));

        // Fenced ack: the old token acknowledges nothing.
        redis.command("XGROUP", "CREATE", category + ":k1", group, "0", "MKSTREAM");
        String entry = text(redis.command("XADD", category + ":k1", "*", "data", "{\"k\":\"k1\"}"));
        redis.command("XREADGROUP", "GROUP", group, "owner-b:2", "COUNT", "1", "STREAMS", category + ":k1", ">");
        assertEquals(-1L, leases.ack(category, "k1", "owner-a:1", entry));
        assertEquals(1L, leases.ack(category, "k1", "owner-b:2", entry));
    }

    @Test
    void courier_reads_a_key_under_its_token_and_a_protean_reader_is_fenced_out() {
        RedisBroker broker = broker("c1");
        broker.publish(category, Map.of("k", "a", "n", 1));
        Message message = readUntil(broker, 1).get(0);
        assertEquals(category + ":a", message.stream());

        String token = get(group + ":a:__lease__");
        assertTrue(token.startsWith("c1-") && token.endsWith(":1"), token);
        List<Object> consumers = list(redis.command("XINFO", "CONSUMERS", category + ":a", group));
        assertEquals(1, consumers.size());
        assertEquals(token, text(list(consumers.get(0)).get(1)), "the consumer name is the token");

        // A Protean worker holding an older token is refused by its own fenced read.
        assertThrows(RuntimeException.class, () -> redis.command("EVAL", PROTEAN_FENCED_READ, "2",
                group + ":a:__lease__", category + ":a", "proteanhost-1-abcdef:7", group, ">"));
        assertTrue(broker.ack(category, message.id(), group));
        assertEquals(0L, list(redis.command("XPENDING", category + ":a", group)).get(0));
    }

    @Test
    void a_lease_taken_by_a_protean_script_is_respected_until_released_then_its_pending_entries_are_reclaimed() {
        // Protean owns key p, reads one entry and stalls on it.
        redis.command("XGROUP", "CREATE", category + ":p", group, "0", "MKSTREAM");
        redis.command("SADD", category + ":__partitions__", "p");
        String lease = group + ":p:__lease__";
        String proteanToken = "OrderHandler-host-1-abcdef:" + redis.command("EVAL", PROTEAN_ACQUIRE, "2", lease,
                group + ":p:__generation__", "OrderHandler-host-1-abcdef", "60000");
        RedisBroker broker = broker("c1");
        broker.publish(category, Map.of("k", "p", "n", 1));
        broker.publish(category, Map.of("k", "p", "n", 2));
        broker.publish(category, Map.of("k", "q", "n", 1));
        redis.command("EVAL", PROTEAN_FENCED_READ, "2", lease, category + ":p", proteanToken, group, ">");

        List<Message> got = readUntil(broker, 1);
        // Several heartbeats later, key p is still Protean's: Courier never reads it.
        PartitionedGroup partitioned = broker.partitionedGroup(category, group);
        long until = System.nanoTime() + Duration.ofSeconds(1).toNanos();
        while (System.nanoTime() < until) {
            got.addAll(broker.read(category, group, 100, Duration.ofMillis(100)));
            assertFalse(partitioned.ownedKeys().contains("p"));
        }
        assertEquals(List.of(category + ":q"), got.stream().map(Message::stream).toList());
        assertEquals(proteanToken, get(lease));

        // Protean lets go (compare-and-delete): Courier takes p at the next generation, reclaims the stalled entry
        // first (XAUTOCLAIM to its token) and goes on in order.
        assertEquals(1L, redis.command("EVAL", PROTEAN_RELEASE, "1", lease, proteanToken));
        List<Message> p = new ArrayList<>();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            for (Message m : broker.read(category, group, 100, Duration.ofMillis(100))) {
                p.add(m);
                broker.ack(category, m.id(), group);
            }
            return p.size() >= 2;
        });
        assertEquals(List.of(1, 2), p.stream().map(m -> m.payload().get("n")).toList());
        String courierToken = get(lease);
        assertTrue(courierToken.endsWith(":2"), courierToken);
        assertEquals("2", get(group + ":p:__generation__"));
        assertEquals(0L, list(redis.command("XPENDING", category + ":p", group)).get(0));
    }

    @Test
    void a_handler_whose_lease_moved_is_fenced_before_it_acks() {
        RedisBroker broker = broker("c1");
        broker.publish(category, Map.of("k", "f"));
        Message message = readUntil(broker, 1).get(0);
        String lease = group + ":f:__lease__";
        // The lease moves while the handler runs: another owner holds it now.
        redis.command("DEL", lease);
        redis.command("EVAL", PROTEAN_ACQUIRE, "2", lease, group + ":f:__generation__", "other", "60000");

        assertFalse(broker.ack(category, message.id(), group));
        assertEquals(1L, list(redis.command("XPENDING", category + ":f", group)).get(0),
                "still pending, for the new owner to reclaim");
        await().atMost(Duration.ofSeconds(5)).until(() -> !broker.partitionedGroup(category, group).ownedKeys()
                .contains("f"));
    }
}
