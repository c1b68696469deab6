package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XAddParams;
import redis.clients.jedis.resps.StreamGroupInfo;

import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A group's lag where {@code XINFO GROUPS} gives none (here Redis 7's null, for a group created at an arbitrary id or
 * after a deletion; Redis 6 gives no field, which takes the same way): counted, on a real redis-server.
 */
@WithRedis
class GroupLagTest {

    private static RedisServer redis;
    private String stream;

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @BeforeEach
    void name() {
        stream = "orders-" + UUID.randomUUID();
    }

    /** Entries 1-0 to n-0. */
    private void fill(Jedis jedis, int n) {
        try (AbstractPipeline p = jedis.pipelined()) {
            for (int i = 1; i <= n; i++) {
                p.xadd(stream, XAddParams.xAddParams().id(i, 0), Map.of("data", "{\"n\": " + i + "}"));
            }
            p.sync();
        }
    }

    /** The lag Courier reports after the group, created at {@code at}, was delivered one entry. */
    private Object lagAfterOneRead(Jedis jedis, String at) {
        jedis.xgroupCreate(stream, "billing", new StreamEntryID(at), false);
        try (Broker broker = new RedisBrokerProvider().create("default", new BrokerSettings("default", "redis",
                Map.of("uri", redis.uri())))) {
            assertTrue(broker.getNext(stream, "billing").isPresent());
            if (redis.version().compareTo("7") >= 0) {
                StreamGroupInfo info = jedis.xinfoGroups(stream).get(0);
                assertNull(info.getGroupInfo().get("lag"), "the case is one where Redis gives no lag");
            }
            @SuppressWarnings("unchecked")
            Map<String, Map<String, Map<String, Map<String, Object>>>> streams =
                    (Map<String, Map<String, Map<String, Map<String, Object>>>>) broker.info().get("streams");
            return streams.get(stream).get("groups").get("billing").get("lag");
        }
    }

    @Test
    void the_entries_after_the_last_delivered_one_are_counted_deleted_ones_left_out() {
        try (Jedis jedis = new Jedis(redis.host(), redis.port())) {
            fill(jedis, 10);
            jedis.xdel(stream, new StreamEntryID(8, 0));
            // Created after 4-0, delivered 5-0: left 6, 7, 9 and 10.
            assertEquals(4L, lagAfterOneRead(jedis, "4-0"));
        }
    }

    @Test
    void a_long_way_behind_is_counted_from_the_entries_before() {
        try (Jedis jedis = new Jedis(redis.host(), redis.port())) {
            int n = 2 * GroupLag.LIMIT + 100;
            fill(jedis, n);
            // Delivered 51-0: 51 entries up to it, the rest after it.
            assertEquals((long) n - 51, lagAfterOneRead(jedis, "50-0"));
        }
    }

    @Test
    void past_the_limit_on_both_sides_the_lag_is_unknown_not_guessed() {
        try (Jedis jedis = new Jedis(redis.host(), redis.port())) {
            int n = 2 * GroupLag.LIMIT + 100;
            fill(jedis, n);
            assertEquals(-1L, lagAfterOneRead(jedis, GroupLag.LIMIT + 10 + "-0"));
        }
    }

    @Test
    void the_id_after_one_is_its_next_sequence() {
        assertEquals("5-1", GroupLag.next(new StreamEntryID(5, 0)));
        assertEquals("6-0", GroupLag.next(new StreamEntryID(5, Long.MAX_VALUE)));
        assertEquals("0-1", GroupLag.next(new StreamEntryID()));
    }
}
