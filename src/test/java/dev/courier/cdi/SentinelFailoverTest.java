package dev.courier.cdi;

import dev.courier.testing.LocalRedisSentinels;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedisSentinels;
import org.junit.jupiter.api.BeforeAll;

import java.time.Duration;

/**
 * {@link FailoverTest} on a Sentinel set: a master, two replicas and three Sentinels that fail a master that has not
 * answered for 1 s.
 */
@WithRedisSentinels(replicas = 2)
class SentinelFailoverTest extends FailoverTest {

    private static LocalRedisSentinels sentinels;

    @BeforeAll
    static void sentinels(LocalRedisSentinels started) {
        sentinels = started;
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
