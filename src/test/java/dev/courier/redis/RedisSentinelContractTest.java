package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerContractTest;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.LocalRedisSentinels;
import dev.courier.testing.WithRedisSentinels;
import org.junit.jupiter.api.BeforeAll;

import java.util.Map;

/** The broker contract, held against the Redis Streams broker on a real Sentinel set (a master, a replica). */
@WithRedisSentinels
class RedisSentinelContractTest extends BrokerContractTest {

    private static LocalRedisSentinels sentinels;

    @BeforeAll
    static void sentinels(LocalRedisSentinels started) {
        sentinels = started;
    }

    @Override
    protected Broker newBroker(RetryPolicy policy) {
        return new RedisBrokerProvider().create("contract",
                RedisBrokerContractTest.settings(sentinels.uri(), policy, Map.of()));
    }
}
