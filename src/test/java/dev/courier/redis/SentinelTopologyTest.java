package dev.courier.redis;

import dev.courier.HealthStats;
import dev.courier.testing.LocalRedisSentinels;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedisSentinels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import redis.clients.jedis.DefaultJedisClientConfig;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** A Sentinel set's topology as health shows it, read from real Sentinels while nodes are killed and restarted. */
@WithRedisSentinels(replicas = 2)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SentinelTopologyTest {

    private static LocalRedisSentinels sentinels;

    @BeforeAll
    static void sentinels(LocalRedisSentinels started) {
        sentinels = started;
    }

    private static TopologyHealth topology() {
        DefaultJedisClientConfig config = DefaultJedisClientConfig.builder().connectionTimeoutMillis(500)
                .socketTimeoutMillis(500).build();
        return SentinelTopology.read(LocalRedisSentinels.MASTER_NAME, sentinels.sentinels(), config,
                () -> new String((byte[]) sentinels.master().command("INFO", "replication"), StandardCharsets.UTF_8));
    }

    private static String address(RedisServer server) {
        return server.host() + ":" + server.port();
    }

    @Test
    @Order(1)
    void a_settled_set_is_healthy_with_the_master_the_sentinels_name_its_replicas_and_sentinels() {
        // A replica just synced may not be listed online by its master yet: healthy within moments.
        TopologyHealth topology = await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(SentinelTopologyTest::topology, t -> t.status() == HealthStats.Status.HEALTHY);
        assertEquals(address(sentinels.master()), topology.details().get("master"));
        assertEquals(2, ((List<?>) topology.details().get("replicas")).size());
        assertEquals(3L, topology.details().get("sentinels_reachable"));
        assertFalse(topology.failoverInProgress());
    }

    @Test
    @Order(2)
    void a_sentinel_down_makes_it_degraded() {
        RedisServer sentinel = sentinels.sentinelNodes().get(2);
        sentinel.kill();
        try {
            TopologyHealth topology = topology();
            assertEquals(HealthStats.Status.DEGRADED, topology.status(), topology.details().toString());
            assertEquals(2L, topology.details().get("sentinels_reachable"));
        } finally {
            sentinel.start();
        }
        sentinels.awaitSettled(Duration.ofSeconds(30));
    }

    @Test
    @Order(3)
    void a_master_killed_is_unhealthy_until_the_sentinels_promote_a_replica_then_degraded_until_it_returns() {
        RedisServer oldMaster = sentinels.master();
        oldMaster.kill();
        TopologyHealth during = await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(SentinelTopologyTest::topology, t -> t.status() == HealthStats.Status.UNHEALTHY);
        assertEquals(address(oldMaster), during.details().get("master"), during.details().toString());

        TopologyHealth after = await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
                .until(SentinelTopologyTest::topology, t -> t.status() != HealthStats.Status.UNHEALTHY);
        assertNotEquals(address(oldMaster), after.details().get("master"));
        assertFalse(after.failoverInProgress());
        assertEquals(HealthStats.Status.DEGRADED, after.status(), "the old master is a missing replica: "
                + after.details());
        assertEquals(true, ((List<?>) after.details().get("replicas")).stream()
                .anyMatch(r -> ((Map<?, ?>) r).get("node").equals(address(oldMaster))
                        && ((Map<?, ?>) r).get("in_sync").equals(false)));

        oldMaster.start(); // the Sentinels make it a replica of the new master
        sentinels.awaitSettled(Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(20)).until(() -> topology().status() == HealthStats.Status.HEALTHY);
    }
}
