package dev.courier.redis;

import dev.courier.testing.LocalRedisCluster;
import dev.courier.testing.WithRedisCluster;
import org.junit.jupiter.api.Test;

import java.util.List;

/** The read ahead on a real Redis Cluster: held on a connection to the stream's master, as on one node. */
@WithRedisCluster
class RedisClusterReadAheadTest {

    @Test
    void a_backlog_is_read_ahead_in_order_on_the_streams_master(LocalRedisCluster cluster) {
        RedisReadAheadTest.readsABacklogAhead(cluster.uri(), "ahead-" + System.nanoTime(),
                stream -> (Long) ((List<?>) cluster.masterOf(stream).command("XPENDING", stream, "g")).get(0));
    }
}
