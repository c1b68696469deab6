package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.HealthStats;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.LocalRedisCluster;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedisCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import redis.clients.jedis.RedisClusterClient;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cluster's topology as health shows it, read from a real cluster while its nodes are killed and restarted. */
@WithRedisCluster
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterTopologyTest {

    private static final List<String> STREAMS = List.of("orders", "{orders}:dlq", "payments", "invoices");

    private static LocalRedisCluster cluster;
    private static RedisClusterClient client;

    @BeforeAll
    static void cluster(LocalRedisCluster started) {
        cluster = started;
        client = RedisClusterClient.create(Set.copyOf(cluster.seeds()));
    }

    @AfterAll
    static void closeClient() {
        client.close();
    }

    private static TopologyHealth topology() {
        return ClusterTopology.read(client.getClusterNodes(), STREAMS);
    }

    private static String address(RedisServer server) {
        return server.host() + ":" + server.port();
    }

    @Test
    @Order(1)
    void a_formed_cluster_is_healthy_with_three_masters_each_with_its_replica_and_each_streams_node() {
        // A replica just synced may not be listed online by its master yet: healthy within moments.
        TopologyHealth topology = await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(ClusterTopologyTest::topology, t -> t.status() == HealthStats.Status.HEALTHY);
        assertFalse(topology.failoverInProgress());
        List<?> masters = (List<?>) topology.details().get("masters");
        assertEquals(3, masters.size());
        for (Object m : masters) {
            Map<?, ?> master = (Map<?, ?>) m;
            assertEquals(true, master.get("reachable"));
            assertEquals(1, ((List<?>) master.get("replicas")).size(), master.toString());
        }
        assertEquals(0L, topology.details().get("slots_without_master"));
        Map<?, ?> slots = (Map<?, ?>) topology.details().get("stream_slots");
        for (String stream : STREAMS) {
            Map<?, ?> slot = (Map<?, ?>) slots.get(stream);
            assertEquals(address(cluster.masterOf(stream)), slot.get("node"), stream);
        }
        assertEquals(((Map<?, ?>) slots.get("orders")).get("slot"), ((Map<?, ?>) slots.get("{orders}:dlq")).get("slot"),
                "a hash tag puts the DLQ in its stream's slot");
    }

    @Test
    @Order(2)
    void both_providers_health_shows_the_topology_with_each_streams_node() {
        for (BrokerProvider provider : List.of(new RedisBrokerProvider(), new RedisPubSubBrokerProvider())) {
            try (Broker broker = provider.create("topology", new BrokerSettings("topology", provider.name(),
                    Map.of("uri", cluster.uri())))) {
                String stream = provider.name() + "-events";
                broker.publish(stream, Map.of("n", 1));
                HealthStats stats = await().atMost(Duration.ofSeconds(10)).until(broker::healthStats,
                        h -> h.status() == HealthStats.Status.HEALTHY);
                assertEquals("cluster", stats.details().get("topology"), provider.name());
                assertEquals(address(cluster.masterOf(stream)),
                        ((Map<?, ?>) ((Map<?, ?>) stats.details().get("stream_slots")).get(stream)).get("node"));
                assertEquals(3, ((List<?>) stats.details().get("masters")).size());
            }
        }
    }

    @Test
    @Order(3)
    void a_replica_down_makes_it_degraded_and_back_healthy_when_it_returns() {
        RedisServer master = cluster.masterOf("payments");
        RedisServer replica = cluster.nodes().stream().filter(n -> {
            String info = new String((byte[]) n.command("INFO", "replication"));
            return info.contains("role:slave") && info.contains("master_port:" + master.port());
        }).findFirst().orElseThrow();
        replica.kill();
        TopologyHealth topology = topology();
        assertEquals(HealthStats.Status.DEGRADED, topology.status(), topology.details().toString());
        assertFalse(topology.failoverInProgress());
        assertEquals(List.of(address(replica)), topology.details().get("nodes_down"));
        replica.start();
        cluster.awaitHealthy(Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(10)).until(() -> topology().status() == HealthStats.Status.HEALTHY);
    }

    @Test
    @Order(4)
    void a_master_killed_leaves_its_slots_without_master_until_its_replica_takes_over() {
        RedisServer oldMaster = cluster.masterOf("orders");
        oldMaster.kill();
        TopologyHealth during = topology();
        assertEquals(HealthStats.Status.UNHEALTHY, during.status(), during.details().toString());
        assertTrue(during.failoverInProgress());
        assertTrue((Long) during.details().get("slots_without_master") > 0);

        TopologyHealth after = await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
                .until(ClusterTopologyTest::topology, t -> t.status() != HealthStats.Status.UNHEALTHY);
        assertEquals(HealthStats.Status.DEGRADED, after.status(), "the old master is missing: " + after.details());
        assertFalse(after.failoverInProgress());
        assertEquals(List.of(address(oldMaster)), after.details().get("nodes_down"));
        String newMaster = (String) ((Map<?, ?>) ((Map<?, ?>) after.details().get("stream_slots")).get("orders"))
                .get("node");
        assertEquals(address(cluster.masterOf("orders")), newMaster);
        assertFalse(newMaster.equals(address(oldMaster)));

        oldMaster.start(); // it comes back as the new master's replica
        cluster.awaitHealthy(Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(10)).until(() -> topology().status() == HealthStats.Status.HEALTHY);
    }
}
