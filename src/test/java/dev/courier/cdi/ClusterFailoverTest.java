package dev.courier.cdi;

import dev.courier.testing.LocalRedisCluster;
import dev.courier.testing.RedisServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.time.Duration;

/**
 * {@link FailoverTest} on a Redis Cluster of 3 masters, each with two replicas (so that the promoted one still has a
 * replica for {@code min-replicas-acked=1}): the stream's master is killed.
 */
class ClusterFailoverTest extends FailoverTest {

    private static LocalRedisCluster cluster;

    @BeforeAll
    static void startCluster() {
        cluster = LocalRedisCluster.start(3, 2);
    }

    @AfterAll
    static void stopCluster() {
        cluster.close();
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
