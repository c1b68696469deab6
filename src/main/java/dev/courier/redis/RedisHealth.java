package dev.courier.redis;

import dev.courier.BrokerException;
import dev.courier.HealthStats;
import dev.courier.redis.RedisConnection.RedisReplyException;
import dev.courier.spi.MaintenancePolicy;
import dev.courier.spi.Retention;
import dev.courier.spi.RetryPolicy;
import redis.clients.jedis.resps.StreamConsumerInfo;
import redis.clients.jedis.resps.StreamGroupInfo;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Health data and info of a Streams broker: the server's state, on a cluster or Sentinel set its topology
 * ({@link ClusterTopology}, {@link SentinelTopology}), the entries in flight (pending in the known streams' groups),
 * the counts, and the settings that decide redelivery. Credentials never appear: the URI is the
 * connection's description, without them.
 *
 * <p>It only looks: nothing here reads, claims, acknowledges or trims an entry.
 */
final class RedisHealth {

    private final String name;
    private final String provider;
    private final RedisConnection connection;
    private final RetryPolicy policy;
    private final String consumer;
    private final ConsumerGroups groups;
    private final Counters counters;
    private final Retention retention;
    private final MaintenancePolicy maintenance;
    private final GroupLag lags;
    /** Keys of partitioned streams halted on a poison message in this instance (partition-poison=halt). */
    private final java.util.function.IntSupplier haltedKeys;
    /** The same in every instance, of the groups this one consumes (-1: none); read from Redis. */
    private final java.util.function.IntSupplier sharedHaltedKeys;

    RedisHealth(String name, String provider, RedisConnection connection, RetryPolicy policy, String consumer,
                 ConsumerGroups groups, Counters counters, Retention retention, MaintenancePolicy maintenance,
                 java.util.function.IntSupplier haltedKeys, java.util.function.IntSupplier sharedHaltedKeys) {
        this.name = name;
        this.provider = provider;
        this.connection = connection;
        this.policy = policy;
        this.consumer = consumer;
        this.groups = groups;
        this.counters = counters;
        this.retention = retention;
        this.maintenance = maintenance;
        this.lags = new GroupLag(name, connection);
        this.haltedKeys = haltedKeys;
        this.sharedHaltedKeys = sharedHaltedKeys;
    }

    /** The broker's health: the server's (PING, INFO) and what this broker object has done. */
    HealthStats stats(Duration uptime) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("provider", provider);
        details.put("uri", connection.describe());
        details.put("consumer", consumer);
        RedisConnection.ServerHealth server = connection.probe(details);
        HealthStats.Status status = server.status();
        long inFlight = 0;
        // Before the streams: while a slot has no master, XINFO on its streams would wait out the failover.
        HealthStats.Status topology = TopologyHealth.into(connection, groups.streams(), details);
        if (server.connected() && topology != HealthStats.Status.UNHEALTHY) {
            try {
                for (String stream : groups.streams()) {
                    for (StreamGroupInfo info : groups.infos(stream)) {
                        inFlight += info.getPending();
                    }
                }
            } catch (BrokerException e) {
                status = HealthStats.Status.DEGRADED;
                details.put("reason", e instanceof RedisReplyException reply ? reply.reply() : "XINFO failed");
            }
        }
        status = TopologyHealth.worse(status, topology);
        details.put("streams", groups.streams().size());
        details.put("max_retries", policy.maxRetries());
        details.put("retry_delay_ms", policy.retryDelay().toMillis());
        details.put("backoff_multiplier", policy.backoffMultiplier());
        details.put("message_timeout_ms", policy.messageTimeout().toMillis());
        details.put("enable_dlq", policy.deadLetterEnabled());
        details.put("discarded", counters.discarded.sum());
        details.put("halted_keys", (long) haltedKeys.getAsInt());
        if (server.connected()) {
            try {
                int shared = sharedHaltedKeys.getAsInt();
                if (shared >= 0) {
                    details.put("group_halted_keys", (long) shared);
                }
            } catch (BrokerException e) {
                // left out: the probe above reports the server
            }
        }
        details.put("max_length", retention.maxLength());
        details.put("retention_ms", retention.maxAge().toMillis());
        details.put("dead_letter_retention_ms", maintenance.deadLetterRetention().toMillis());
        details.values().removeIf(java.util.Objects::isNull);
        return new HealthStats(status, server.connected(), connection.lastPong(), uptime,
                new HealthStats.MessageCounts(counters.published.sum(), inFlight, counters.failed.sum(),
                        counters.deadLettered.sum()), details);
    }

    /** What {@code Broker.info()} shows: the server, and each known stream's length, groups and consumers. */
    Map<String, Object> info() {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("name", name);
        info.put("provider", provider);
        info.put("uri", connection.describe());
        info.put("consumer", consumer);
        try {
            Map<String, String> server = connection.serverInfo();
            info.put("redis_version", server.getOrDefault("redis_version", ""));
            info.put("role", server.getOrDefault("role", ""));
            info.put("used_memory", RedisConnection.parseLong(server.get("used_memory")));
            info.put("used_memory_human", server.getOrDefault("used_memory_human", ""));
            info.put("connected_clients", RedisConnection.parseLong(server.get("connected_clients")));
            info.put("loading", "1".equals(server.get("loading")));
            Map<String, Object> streamInfo = new TreeMap<>();
            for (String stream : groups.streams()) {
                streamInfo.put(stream, streamInfo(stream));
            }
            info.put("streams", streamInfo);
        } catch (BrokerException e) {
            info.put("error", e.getMessage());
        }
        return info;
    }

    private Map<String, Object> streamInfo(String stream) {
        Map<String, Object> s = new LinkedHashMap<>();
        long length = connection.execute("XLEN", j -> j.xlen(stream));
        s.put("length", length);
        s.put("dlq_depth", connection.execute("XLEN", j -> j.xlen(DeadLetterQueue.key(stream))));
        Map<String, Object> groupMap = new TreeMap<>();
        long pending = 0;
        for (StreamGroupInfo info : groups.infos(stream)) {
            Map<String, Object> gi = new LinkedHashMap<>();
            gi.put("pending", info.getPending());
            gi.put("last_delivered_id", String.valueOf(info.getLastDeliveredId()));
            Object lag = info.getGroupInfo().get("lag"); // Redis 7+, and null where it cannot tell
            gi.put("lag", lag instanceof Long l ? l : lags.count(stream, info.getLastDeliveredId()));
            List<Map<String, Object>> consumers = new ArrayList<>();
            for (StreamConsumerInfo c : connection.execute("XINFO CONSUMERS",
                    j -> j.xinfoConsumers2(stream, info.getName()))) {
                consumers.add(Map.of("name", c.getName(), "pending", c.getPending(), "idle_ms", c.getIdle()));
            }
            gi.put("consumers", consumers);
            groupMap.put(info.getName(), gi);
            pending += info.getPending();
        }
        s.put("pending", pending);
        s.put("groups", groupMap);
        return s;
    }
}
