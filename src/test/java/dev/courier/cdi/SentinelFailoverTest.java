package dev.courier.cdi;

import dev.courier.testing.LocalRedisSentinels;
import dev.courier.testing.RedisServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.time.Duration;

/**
 * {@link FailoverTest} on a Sentinel set: a master, two replicas and three Sentinels that fail a master that has not
 * answered for 1 s.
 */
class SentinelFailoverTest extends FailoverTest {

    private static LocalRedisSentinels sentinels;

    @BeforeAll
    static void startSentinels() {
        sentinels = LocalRedisSentinels.start(2, 3);
    }

    @AfterAll
    static void stopSentinels() {
        sentinels.close();
    }

    @Override
    String what() {
        return "sentinel";
    }

    @Override
    String uri() {
        return sentinels.uri();
    }

    @Override
    RedisServer master() {
        return sentinels.master();
    }

    @Override
    void awaitWhole() {
        sentinels.awaitSettled(Duration.ofSeconds(30));
    }
}
