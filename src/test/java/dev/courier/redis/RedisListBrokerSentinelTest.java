package dev.courier.redis;

import dev.courier.testing.LocalRedisSentinels;
import dev.courier.testing.WithRedisSentinels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * The redis_pubsub broker's tests on a real Sentinel set: the brokers find the master through the Sentinels;
 * {@link #redis}, which the tests look at directly, is that master. (The tests that build a broker of their own on a
 * {@code redis://} uri run it on the master alone.)
 */
@WithRedisSentinels
class RedisListBrokerSentinelTest extends RedisListBrokerTest {

    private static LocalRedisSentinels sentinels;

    @BeforeAll
    static void sentinels(LocalRedisSentinels started) {
        sentinels = started;
    }

    @BeforeEach
    void theMaster() {
        redis = sentinels.master();
    }

    @Override
    String uri() {
        return sentinels.uri();
    }
}
