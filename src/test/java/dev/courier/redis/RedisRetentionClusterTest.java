package dev.courier.redis;

import dev.courier.testing.LocalRedisCluster;
import dev.courier.testing.WithRedisCluster;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * Retention on a real Redis Cluster: each stream is named with a hash tag, so that the test can look at it and its
 * dead letters on one master, {@link #redis}. (The broker's maintenance sends each command to its key's master, so
 * a stream without a hash tag, whose dead letters live elsewhere, is trimmed the same way.)
 */
@WithRedisCluster
class RedisRetentionClusterTest extends RedisRetentionTest {

    private static LocalRedisCluster cluster;

    @BeforeAll
    static void cluster(LocalRedisCluster started) {
        cluster = started;
    }

    @BeforeEach
    void masterOfTheStream() {
        redis = cluster.masterOf(stream);
    }

    @Override
    String streamName() {
        return "{" + super.streamName() + "}";
    }

    @Override
    String uri() {
        return cluster.uri();
    }
}
