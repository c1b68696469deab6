package dev.courier.testing;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XAddParams;
import redis.clients.jedis.resps.StreamEntry;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** The test kit's Redis Cluster is a real one: every slot served, Jedis's cluster client works on it, failover. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalRedisClusterTest {

    private static LocalRedisCluster cluster;

    @BeforeAll
    static void startCluster() {
        cluster = LocalRedisCluster.start(3);
    }

    @AfterAll
    static void stopCluster() {
        cluster.close();
    }

    @Test
    @Order(1)
    void three_masters_serve_every_slot_and_the_cluster_client_writes_streams_in_several_slots() {
        Set<Integer> masters = new HashSet<>();
        IntStream.range(0, 200).forEach(i -> masters.add(cluster.masterOf("stream-" + i).port()));
        assertEquals(3, masters.size(), "200 keys spread over the 3 masters");
        try (RedisClusterClient client = RedisClusterClient.create(Set.copyOf(cluster.seeds()))) {
            for (int i = 0; i < 30; i++) {
                client.xadd("stream-" + i, XAddParams.xAddParams(), Map.of("data", "{\"n\": " + i + "}"));
            }
            for (int i = 0; i < 30; i++) {
                assertEquals(1, client.xlen("stream-" + i));
            }
        }
    }

    @Test
    @Order(2)
    void killing_the_master_of_a_stream_promotes_its_replica_which_keeps_what_it_acknowledged() {
        RedisServer oldMaster = cluster.masterOf("orders");
        try (RedisClusterClient client = RedisClusterClient.create(Set.copyOf(cluster.seeds()))) {
            StreamEntryID id = client.xadd("orders", XAddParams.xAddParams(), Map.of("data", "{}"));
            // WAIT on the master's own connection: the entry is on its replica before the kill.
            assertEquals(1L, oldMaster.command("WAIT", "1", "5000"));
            long killed = System.nanoTime();
            oldMaster.kill();
            cluster.awaitHealthy(Duration.ofSeconds(30));
            RedisServer newMaster = cluster.masterOf("orders");
            System.out.printf("cluster failover: replica promoted and cluster ok %.1f s after kill -9%n",
                    (System.nanoTime() - killed) / 1e9);
            assertNotEquals(oldMaster.port(), newMaster.port());
            // The client finds the new master itself.
            assertEquals(List.of(id), client.xrange("orders", (StreamEntryID) null, null).stream()
                    .map(StreamEntry::getID).toList());
        }
    }
}
