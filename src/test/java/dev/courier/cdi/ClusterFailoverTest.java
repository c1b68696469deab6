package dev.courier.cdi;

import dev.courier.testing.LocalRedisCluster;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedisCluster;
import org.junit.jupiter.api.BeforeAll;

import java.time.Duration;

/**
 * {@link FailoverTest} on a Redis Cluster of 3 masters, each with two replicas (so that the promoted one still has a
 * replica for {@code min-replicas-acked=1}): the stream's master is killed.
 */
@WithRedisCluster(replicas = 2)
class ClusterFailoverTest extends FailoverTest {

    private static LocalRedisCluster cluster;

    @BeforeAll
    static void cluster(LocalRedisCluster started) {
        cluster = started;
    }

    @Override
    String what() {
        return "cluster";
    }

    @Override
    String uri() {
        return cluster.uri();
    }

    @Override
    RedisServer master() {
        return cluster.masterOf(STREAM);
    }

    @Override
    void awaitWhole() {
        cluster.awaitHealthy(Duration.ofSeconds(30));
    }
}
