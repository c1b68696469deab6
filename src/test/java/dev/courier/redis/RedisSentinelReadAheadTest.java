package dev.courier.redis;

import dev.courier.testing.LocalRedisSentinels;
import dev.courier.testing.WithRedisSentinels;
import org.junit.jupiter.api.Test;

import java.util.List;

/** The read ahead on a real Sentinel set: held on a connection to the master the Sentinels name. */
@WithRedisSentinels
class RedisSentinelReadAheadTest {

    @Test
    void a_backlog_is_read_ahead_in_order_on_the_master(LocalRedisSentinels sentinels) {
        RedisReadAheadTest.readsABacklogAhead(sentinels.uri(), "ahead-" + System.nanoTime(),
                stream -> (Long) ((List<?>) sentinels.master().command("XPENDING", stream, "g")).get(0));
    }
}
