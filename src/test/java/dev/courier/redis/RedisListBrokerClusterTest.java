package dev.courier.redis;

import dev.courier.testing.LocalRedisCluster;
import dev.courier.testing.WithRedisCluster;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * The redis_pubsub broker's tests on a real Redis Cluster: each list is named with a hash tag, so that its positions
 * and groups set are in its slot; {@link #redis}, which the tests look at directly, is the master of that slot.
 * (The tests that build a broker of their own on a {@code redis://} uri run it on that master alone.)
 */
@WithRedisCluster
class RedisListBrokerClusterTest extends RedisListBrokerTest {

    private static LocalRedisCluster cluster;

    @BeforeAll
    static void cluster(LocalRedisCluster started) {
        cluster = started;
    }

    @BeforeEach
    void masterOfTheList() {
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
