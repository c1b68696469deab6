package dev.courier.redis;

import org.junit.jupiter.api.Test;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisClusterOperationException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisMovedDataException;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which errors a cluster or Sentinel connection waits out as a failover's, and which it reports at once. */
class FailoverErrorsTest {

    @Test
    void unreachable_nodes_and_the_refusals_of_a_failover_are_waited_out() {
        assertTrue(RedisConnection.isFailoverError(new JedisConnectionException("Connection refused")));
        assertTrue(RedisConnection.isFailoverError(
                new JedisClusterOperationException("No more cluster attempts left.")));
        assertTrue(RedisConnection.isFailoverError(new JedisMovedDataException("MOVED 3999 127.0.0.1:7001",
                new HostAndPort("127.0.0.1", 7001), 3999)));
        for (String reply : new String[] {"CLUSTERDOWN The cluster is down", "TRYAGAIN Multiple keys request during "
                + "rehashing of slot", "READONLY You can't write against a read only replica.", "MASTERDOWN Link "
                + "with MASTER is down", "LOADING Redis is loading the dataset in memory", "UNBLOCKED force "
                + "unblock from blocking operation, instance state changed (master -> replica?)"}) {
            assertTrue(RedisConnection.isFailoverError(new JedisDataException(reply)), reply);
        }
    }

    @Test
    void refused_credentials_keys_in_several_slots_and_other_replies_are_not() {
        assertFalse(RedisConnection.isFailoverError(new JedisConnectionException(
                new JedisAccessControlException("WRONGPASS invalid username-password pair"))));
        assertFalse(RedisConnection.isFailoverError(new JedisClusterOperationException(
                "Keys must belong to same hashslot.")));
        assertFalse(RedisConnection.isFailoverError(new JedisDataException(
                "CROSSSLOT Keys in request don't hash to the same slot")));
        assertFalse(RedisConnection.isFailoverError(new JedisDataException(
                "WRONGTYPE Operation against a key holding the wrong kind of value")));
        assertFalse(RedisConnection.isFailoverError(new JedisDataException("NOGROUP No such key")));
    }
}
