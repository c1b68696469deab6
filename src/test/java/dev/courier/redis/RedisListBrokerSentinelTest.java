package dev.courier.redis;

import dev.courier.testing.LocalRedisSentinels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * The redis_pubsub broker's tests on a real Sentinel set: the brokers find the master through the Sentinels;
 * {@link #redis}, which the tests look at directly, is that master. (The tests that build a broker of their own on a
 * {@code redis://} uri run it on the master alone.)
 */
class RedisListBrokerSentinelTest extends RedisListBrokerTest {

    private static LocalRedisSentinels sentinels;

    @BeforeAll
    static void startSentinels() {
        sentinels = LocalRedisSentinels.start(1, 3);
    }

    @AfterAll
    static void stopSentinels() {
        sentinels.close();
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
