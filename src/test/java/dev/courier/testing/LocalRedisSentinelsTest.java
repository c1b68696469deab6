package dev.courier.testing;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisSentinelClient;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XAddParams;
import redis.clients.jedis.resps.StreamEntry;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** The test kit's Sentinel set is a real one: the Sentinels name the master and fail it over when it is killed. */
class LocalRedisSentinelsTest {

    private static LocalRedisSentinels sentinels;

    @BeforeAll
    static void startSentinels() {
        sentinels = LocalRedisSentinels.start(2, 3);
    }

    @AfterAll
    static void stopSentinels() {
        sentinels.close();
    }

    @Test
    void killing_the_master_fails_it_over_to_a_replica_that_keeps_what_it_acknowledged() {
        RedisServer oldMaster = sentinels.master();
        try (RedisSentinelClient client = RedisSentinelClient.builder().masterName(LocalRedisSentinels.MASTER_NAME)
                .sentinels(Set.copyOf(sentinels.sentinels())).build()) {
            StreamEntryID id = client.xadd("orders", XAddParams.xAddParams(), Map.of("data", "{}"));
            assertEquals(2L, oldMaster.command("WAIT", "2", "5000"), "both replicas hold the entry");
            long killed = System.nanoTime();
            oldMaster.kill();
            sentinels.awaitSettled(Duration.ofSeconds(30));
            System.out.printf("sentinel failover: a replica promoted and the set settled %.1f s after kill -9%n",
                    (System.nanoTime() - killed) / 1e9);
            assertNotEquals(oldMaster.port(), sentinels.master().port());
            assertEquals(List.of(id), client.xrange("orders", (StreamEntryID) null, null).stream()
                    .map(StreamEntry::getID).toList(), "the client follows the new master");
        }
    }
}
