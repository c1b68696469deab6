package dev.courier.redis;

import redis.clients.jedis.Connection;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.RedisSentinelClient;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.providers.ClusterConnectionProvider;
import redis.clients.jedis.providers.SentineledConnectionProvider;
import redis.clients.jedis.util.JedisClusterCRC16;
import redis.clients.jedis.util.Pool;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.LinkedHashSet;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;

/**
 * One Jedis client for one topology, and what {@link RedisConnection} needs of it beyond commands: a pooled
 * connection to the master that holds a key (so that a write knows what it sent), the node a key lives on (so that
 * pipelines go per node), and a reset after a connection error. Built on the Jedis client of that topology
 * ({@link RedisClient}, {@link RedisClusterClient}, {@link RedisSentinelClient}). Pipelines are made on
 * {@link #connectionFor} a key, never with {@code pipelined()}: on a cluster that is a {@code ClusterPipeline}, which
 * leaves a failed node's replies unset and its error only in its log.
 */
abstract sealed class RedisClients implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");

    /** Jedis's own attempts per cluster command: a MOVED and an ASK; the failover retries are Courier's. */
    static final int CLUSTER_ATTEMPTS = 3;

    /** Commands, routed as the topology needs. */
    abstract UnifiedJedis jedis();

    /** A pooled connection to the master that holds {@code key}; closing it gives it back. */
    abstract Connection connectionFor(byte[] key);

    /** Where {@code key} lives: equal for keys whose commands can share a pipeline. */
    abstract Object nodeOf(byte[] key);

    /**
     * After a connection error: drops the idle connections to the node that failed (likely dead too; on a cluster,
     * the node of {@code key}, none if it is {@code null}) and, on a cluster, reads the slot map again.
     */
    abstract void reset(byte[] key);

    /** Builds the client; a cluster or Sentinel client connects (to learn the topology) as it is built. */
    static RedisClients build(RedisEndpoint endpoint, JedisClientConfig dataNodes, JedisClientConfig sentinels,
                              GenericObjectPoolConfig<Connection> pool, Duration retriesDuration) {
        return switch (endpoint.topology()) {
            case STANDALONE -> new Standalone(RedisClient.builder()
                    .hostAndPort(endpoint.nodes().get(0))
                    .clientConfig(dataNodes)
                    .poolConfig(pool)
                    .build());
            case CLUSTER -> new Cluster(endpoint, dataNodes, pool, retriesDuration);
            case SENTINEL -> new Sentinel(endpoint, dataNodes, sentinels, pool);
        };
    }

    @Override
    public void close() {
        jedis().close();
    }

    /** The client built over {@code provider}, which is closed if building fails (it has connected already). */
    private static <C> C closingOnFailure(AutoCloseable provider, java.util.function.Supplier<C> build) {
        try {
            return build.get();
        } catch (RuntimeException e) {
            try {
                provider.close();
            } catch (Exception closing) {
                e.addSuppressed(closing);
            }
            throw e;
        }
    }

    private static void clear(Pool<Connection> pool) {
        try {
            pool.clear();
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "clearing a pool failed: " + e.getClass().getName());
        }
    }

    /** One node. */
    static final class Standalone extends RedisClients {
        private final RedisClient client;

        Standalone(RedisClient client) {
            this.client = client;
        }

        @Override
        UnifiedJedis jedis() {
            return client;
        }

        @Override
        Connection connectionFor(byte[] key) {
            return client.getPool().getResource();
        }

        @Override
        Object nodeOf(byte[] key) {
            return "";
        }

        @Override
        void reset(byte[] key) {
            clear(client.getPool());
        }
    }

    /** A Redis Cluster: keys by slot, each slot on its master. */
    static final class Cluster extends RedisClients {
        private final ClusterConnectionProvider provider;
        private final RedisClusterClient client;

        Cluster(RedisEndpoint endpoint, JedisClientConfig dataNodes, GenericObjectPoolConfig<Connection> pool,
                Duration retriesDuration) {
            // No periodic topology refresh: Jedis starts its thread before it first reads the slots, and leaks it
            // when no seed answers. The slot map is read again after each MOVED (by Jedis) and after each attempt
            // refused during a failover (reset), which is when it changes; an idle client finds out on its next
            // write, whose check of a stale connection fails on the dead master.
            this.provider = new ClusterConnectionProvider(new LinkedHashSet<>(endpoint.nodes()), dataNodes, pool);
            this.client = closingOnFailure(provider, () -> RedisClusterClient.builder()
                    .nodes(new LinkedHashSet<>(endpoint.nodes()))
                    .clientConfig(dataNodes)
                    .connectionProvider(provider)
                    .maxAttempts(CLUSTER_ATTEMPTS)
                    .maxTotalRetriesDuration(retriesDuration)
                    .build());
        }

        @Override
        UnifiedJedis jedis() {
            return client;
        }

        @Override
        Connection connectionFor(byte[] key) {
            return provider.getConnectionFromSlot(JedisClusterCRC16.getSlot(key));
        }

        @Override
        Object nodeOf(byte[] key) {
            int slot = JedisClusterCRC16.getSlot(key);
            HostAndPort node = provider.getNode(slot);
            return node != null ? node : slot;
        }

        @Override
        void reset(byte[] key) {
            // Only the failed node's pool: the other masters' connections are fine, and a dead one among them is
            // found by the check before a write or fails an idempotent command, which is tried again.
            HostAndPort node = key == null ? null : provider.getNode(JedisClusterCRC16.getSlot(key));
            redis.clients.jedis.ConnectionPool pool = node == null ? null : provider.getNodes().get(node.toString());
            if (pool != null) {
                clear(pool);
            }
            try {
                provider.renewSlotCache();
            } catch (RuntimeException e) {
                // No node answered: the next attempt tries again.
                LOG.log(Level.DEBUG, () -> "reading the cluster's slots failed: " + e.getClass().getName());
            }
        }
    }

    /** A master found through Sentinels; the pool follows it when they switch it. */
    static final class Sentinel extends RedisClients {
        private final SentineledConnectionProvider provider;
        private final RedisSentinelClient client;

        Sentinel(RedisEndpoint endpoint, JedisClientConfig dataNodes, JedisClientConfig sentinels,
                 GenericObjectPoolConfig<Connection> pool) {
            this.provider = new SentineledConnectionProvider(endpoint.masterName(), dataNodes, pool,
                    new LinkedHashSet<>(endpoint.nodes()), sentinels);
            this.client = closingOnFailure(provider, () -> RedisSentinelClient.builder()
                    .masterName(endpoint.masterName())
                    .sentinels(new LinkedHashSet<>(endpoint.nodes()))
                    .clientConfig(dataNodes)
                    .sentinelClientConfig(sentinels)
                    .connectionProvider(provider)
                    .build());
        }

        @Override
        UnifiedJedis jedis() {
            return client;
        }

        @Override
        Connection connectionFor(byte[] key) {
            return provider.getConnection();
        }

        @Override
        Object nodeOf(byte[] key) {
            return "";
        }

        @Override
        void reset(byte[] key) {
            for (Pool<Connection> pool : provider.getConnectionMap().values()) {
                clear(pool);
            }
        }
    }
}
