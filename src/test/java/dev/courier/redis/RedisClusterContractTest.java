package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerContractTest;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.LocalRedisCluster;
import dev.courier.testing.WithRedisCluster;
import org.junit.jupiter.api.BeforeAll;

import java.util.Map;

/** The broker contract, held against the Redis Streams broker on a real Redis Cluster of 3 masters. */
@WithRedisCluster
class RedisClusterContractTest extends BrokerContractTest {

    private static LocalRedisCluster cluster;

    @BeforeAll
    static void cluster(LocalRedisCluster started) {
        cluster = started;
    }

    @Override
    protected Broker newBroker(RetryPolicy policy) {
        return new RedisBrokerProvider().create("contract",
                RedisBrokerContractTest.settings(cluster.uri(), policy, Map.of()));
    }
}
