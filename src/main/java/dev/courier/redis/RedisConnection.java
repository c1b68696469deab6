package dev.courier.redis;

import dev.courier.BrokerConnectionException;
import dev.courier.BrokerException;
import dev.courier.HealthStats;
import dev.courier.PublishOutcomeUnknownException;
import dev.courier.internal.CourierOptions;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.Option;
import redis.clients.jedis.CommandObjects;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionPoolConfig;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.Response;
import redis.clients.jedis.SslOptions;
import redis.clients.jedis.SslVerifyMode;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;
import redis.clients.jedis.util.JedisClusterCRC16;

import java.io.File;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The connection to Redis, shared by the Redis providers: one node, a Redis Cluster or a Sentinel set, as the
 * {@code uri} says ({@link RedisEndpoint}). Reads the connection options, builds the Jedis clients lazily
 * ({@link RedisClients}), tries again after a connection error (once on one node; on a cluster or Sentinel until
 * {@code failover-timeout}) and turns Jedis's exceptions into Courier's, never with a password in them.
 *
 * <p>Commands go through the topology's {@link UnifiedJedis}; blocking reads through a second client with a pool of
 * its own, so that they never hold the connections that publishing needs; writes that must not run twice through
 * one pooled connection to the key's master ({@link #write}).
 */
final class RedisConnection implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");


    /** Where and how to connect. {@link #toString()} shows no password. */
    record Config(String brokerName, RedisEndpoint endpoint, int poolSize, Duration connectTimeout,
                  Duration socketTimeout, Tls tls, SentinelAccess sentinels, Duration failoverTimeout,
                  int minReplicasAcked) {

        /** The URI without credentials, for messages and health data. */
        String describe() {
            return endpoint.describe();
        }

        String user() {
            return endpoint.user();
        }

        String password() {
            return endpoint.password();
        }

        /** Whether the nodes fail over (a cluster, or Sentinel), so that a connection error is waited out. */
        boolean failsOver() {
            return endpoint.topology() != RedisEndpoint.Topology.STANDALONE;
        }

        @Override
        public String toString() {
            return "RedisConnection.Config[" + describe() + ", pool-size=" + poolSize + "]";
        }

        /** The connection settings of a broker; {@code uri} is required. */
        static Config from(BrokerSettings settings) {
            RedisEndpoint endpoint = RedisEndpoint.from(settings);
            String verify = settings.get(CourierOptions.TLS_VERIFY).orElseThrow();
            SslVerifyMode verifyMode = switch (verify.toLowerCase(java.util.Locale.ROOT)) {
                case "full" -> SslVerifyMode.FULL;
                case "ca" -> SslVerifyMode.CA;
                case "none" -> SslVerifyMode.INSECURE;
                default -> throw settings.invalid(CourierOptions.TLS_VERIFY.name(),
                        "'" + verify + "' is not full, ca or none");
            };
            String truststore = readableFile(settings, CourierOptions.TLS_TRUSTSTORE);
            Tls tls = new Tls(truststore, settings.get(CourierOptions.TLS_TRUSTSTORE_PASSWORD).orElse(null),
                    settings.get(CourierOptions.TLS_TRUSTSTORE_TYPE).orElse(null), verifyMode);
            SentinelAccess sentinels = null;
            if (endpoint.topology() == RedisEndpoint.Topology.SENTINEL) {
                String sentinelTruststore = readableFile(settings, CourierOptions.SENTINEL_TLS_TRUSTSTORE);
                sentinels = new SentinelAccess(settings.get(CourierOptions.SENTINEL_USER).orElse(null),
                        settings.get(CourierOptions.SENTINEL_PASSWORD).orElse(null),
                        settings.getBoolean(CourierOptions.SENTINEL_TLS.name(), endpoint.ssl()),
                        sentinelTruststore == null ? tls : new Tls(sentinelTruststore,
                                settings.get(CourierOptions.SENTINEL_TLS_TRUSTSTORE_PASSWORD).orElse(null),
                                tls.truststoreType(), verifyMode));
            } else {
                for (Option option : List.of(CourierOptions.SENTINEL_USER, CourierOptions.SENTINEL_PASSWORD,
                        CourierOptions.SENTINEL_TLS, CourierOptions.SENTINEL_TLS_TRUSTSTORE,
                        CourierOptions.SENTINEL_TLS_TRUSTSTORE_PASSWORD)) {
                    if (settings.get(option).isPresent()) {
                        throw settings.invalid(option.name(), "is set, but the uri ('" + endpoint.describe()
                                + "') names no Sentinels; use redis-sentinel://host:port,...#<master-name>");
                    }
                }
            }
            return new Config(settings.brokerName(), endpoint, settings.getInt(CourierOptions.POOL_SIZE),
                    settings.getDuration(CourierOptions.CONNECT_TIMEOUT),
                    settings.getDuration(CourierOptions.SOCKET_TIMEOUT), tls, sentinels,
                    settings.getDuration(CourierOptions.FAILOVER_TIMEOUT),
                    settings.getInt(CourierOptions.MIN_REPLICAS_ACKED));
        }

        private static String readableFile(BrokerSettings settings, Option option) {
            String file = settings.get(option).orElse(null);
            if (file != null && !new File(file).isFile()) {
                throw settings.invalid(option.name(), "'" + file + "' is not a readable file");
            }
            return file;
        }
    }

    /** The truststore for TLS, and how far certificates are checked. {@link #toString()} shows no password. */
    record Tls(String truststore, String truststorePassword, String truststoreType, SslVerifyMode verifyMode) {
        @Override
        public String toString() {
            return "Tls[truststore=" + truststore + ", verify=" + verifyMode + "]";
        }
    }

    /** How to reach the Sentinels: their own credentials and TLS. {@link #toString()} shows no password. */
    record SentinelAccess(String user, String password, boolean ssl, Tls tls) {
        @Override
        public String toString() {
            return "SentinelAccess[user=" + user + ", ssl=" + ssl + "]";
        }
    }

    private final Config config;
    private final Duration blockTimeout;
    private volatile RedisClients client;
    private final java.util.concurrent.atomic.AtomicLong failures = new java.util.concurrent.atomic.AtomicLong();
    /*
     * A pooled connection that Redis closed while it sat idle (a restart, a shutdown, its idle timeout) is found out
     * only when a command is written on it, and for a write that would mean "outcome unknown" where nothing reached
     * Redis. So before a write goes out on a connection that may be stale (no write has succeeded for a second, or a
     * connection error was seen since the last one) it is checked with a PING: at most one round trip after a quiet
     * spell, none under steady publishing.
     */
    private static final long STALE_AFTER_NANOS = TimeUnit.SECONDS.toNanos(1);
    private volatile long lastWriteNanos = System.nanoTime() - STALE_AFTER_NANOS;
    private volatile long lastConnectionErrorNanos = lastWriteNanos;
    private volatile java.time.Instant lastPong;
    private volatile long lastRejectedConnections = -1;
    private volatile RedisClients blockingClient;

    /**
     * @param blockTimeout the longest a blocking read waits on the server; the blocking pool's socket timeout allows
     *                     for it
     */
    RedisConnection(Config config, Duration blockTimeout) {
        this.config = config;
        this.blockTimeout = blockTimeout;
    }

    Config config() {
        return config;
    }

    /**
     * PING: whether Redis answers PONG. Remembers when it last did, for health data. Does not wait while Redis loads
     * its data, nor through a failover (tried once more, as on one node): {@link #probe} reports them, and a health
     * check must answer at once.
     */
    boolean ping() {
        boolean pong = "PONG".equalsIgnoreCase(run("PING", j -> isCluster() ? pingSlotZero(j) : j.ping(), false,
                false));
        if (pong) {
            lastPong = java.time.Instant.now();
        }
        return pong;
    }

    /**
     * On a cluster, {@code UnifiedJedis.ping()} is sent to every node the client has known, a failed master that
     * stays in its node map too, so it would fail until that node came back. A PING to one slot's master says the
     * cluster answers; which masters do is for the topology (health) to say.
     */
    private static String pingSlotZero(UnifiedJedis cluster) {
        try (Connection connection = ((redis.clients.jedis.RedisClusterClient) cluster).getConnectionFromSlot(0)) {
            return connection.ping() ? "PONG" : "";
        }
    }

    /** When Redis last answered a {@link #ping()}, or {@code null}. */
    java.time.Instant lastPong() {
        return lastPong;
    }

    /**
     * PING and INFO, for the brokers' health: latency, version, role, memory and clients go into {@code details}.
     * DEGRADED while Redis loads, rejects connections (its count rose since the last probe) or answers with an error;
     * UNHEALTHY when it cannot be reached. Never throws.
     */
    ServerHealth probe(Map<String, Object> details) {
        try {
            long start = System.nanoTime();
            boolean pong = ping();
            details.put("latency_ms", (System.nanoTime() - start) / 1_000_000.0);
            Map<String, String> server = serverInfo(false);
            details.put("redis_version", server.get("redis_version"));
            details.put("role", server.get("role"));
            details.put("used_memory", parseLong(server.get("used_memory")));
            details.put("connected_clients", parseLong(server.get("connected_clients")));
            HealthStats.Status status = pong ? HealthStats.Status.HEALTHY : HealthStats.Status.DEGRADED;
            if ("1".equals(server.get("loading"))) {
                status = HealthStats.Status.DEGRADED;
                details.put("reason", "loading");
            }
            long rejected = parseLong(server.get("rejected_connections"));
            if (lastRejectedConnections >= 0 && rejected > lastRejectedConnections) {
                status = HealthStats.Status.DEGRADED;
                details.put("reason", "rejecting connections");
            }
            lastRejectedConnections = rejected;
            return new ServerHealth(status, true);
        } catch (RedisReplyException e) {
            // LOADING, BUSY, MASTERDOWN, max clients: Redis is there but cannot serve.
            details.put("reason", e.reply());
            return new ServerHealth(HealthStats.Status.DEGRADED, true);
        } catch (BrokerConnectionException e) {
            details.put("error", e.getMessage());
            return new ServerHealth(HealthStats.Status.UNHEALTHY, false);
        }
    }

    /** What {@link #probe} found: the status it shows, and whether Redis answered at all. */
    record ServerHealth(HealthStats.Status status, boolean connected) {
    }

    /** How many operations failed because Redis could not be reached (after the retry). */
    long failures() {
        return failures.get();
    }

    /** The URI without credentials. */
    String describe() {
        return config.describe();
    }

    /**
     * Runs a command. After a connection error the pool's idle connections are dropped (after a restart they are all
     * dead) and the command runs once more; if that fails too, {@link BrokerConnectionException}. While Redis loads
     * its data ({@code LOADING}), the command is tried again every {@value #LOADING_PAUSE_MS} ms for up to the
     * socket timeout, then {@link BrokerConnectionException}: a restarting Redis is a connection problem. On a
     * cluster or Sentinel, a failover's errors are waited out instead (see {@link #runThroughFailover}).
     *
     * <p>Not for commands that must not run twice: see {@link #write}.
     *
     * @param operation what is being done, for the exception's message
     * @throws BrokerConnectionException Redis cannot be reached
     * @throws RedisReplyException       Redis answered with an error
     */
    <T> T execute(String operation, Function<UnifiedJedis, T> command) {
        return run(operation, command, false, true);
    }

    /** Runs a blocking command on the blocking pool, with the same retry and exception rules. */
    <T> T executeBlocking(String operation, Function<UnifiedJedis, T> command) {
        return run(operation, command, true, true);
    }

    /**
     * Runs commands that go together (a pipeline of an XACK and the next XREADGROUP) on one pooled connection to
     * the master that holds {@code key}, with {@link #execute}'s retry and exception rules. Not a Jedis
     * {@code ClusterPipeline}: that one syncs each node on a thread of its own and, when a node fails, leaves its
     * replies unset and the error only in its log.
     *
     * @param blocking whether the commands may block (the blocking pool, whose socket timeout allows for it)
     */
    <T> T executeOn(String operation, byte[] key, boolean blocking, Function<Connection, T> command) {
        return runOnClients(operation, c -> {
            try (Connection connection = c.connectionFor(key)) {
                return command.apply(connection);
            }
        }, blocking, true);
    }

    /**
     * A connection of the blocking pool (the readers') to the master that holds {@code key}, for commands whose
     * replies are read by a later call (a read ahead); the caller gives it back with {@code close()} once it has read
     * them, or to {@link #lost} if it broke. Asked once: without a connection, nothing is sent.
     */
    Connection borrow(byte[] key) {
        try {
            return clients(true).connectionFor(key);
        } catch (JedisException e) {
            throw translate("connecting", e);
        }
    }

    /**
     * A borrowed connection broke with commands in flight: it is dropped, not pooled, and the failure is counted, so
     * that readers deliver again what a read Redis may have served (or an ack that may not have run) left behind.
     */
    BrokerException lost(String operation, Connection connection, byte[] key, JedisException e) {
        connection.setBroken();
        connection.close();
        reset(true, key);
        countFailure();
        return new BrokerConnectionException("broker '" + config.brokerName + "': " + operation + " on Redis at "
                + describe() + " failed, the connection broke with commands in flight: " + safe(rootMessage(e)), e);
    }

    /** How long to wait before asking a loading Redis again. */
    static final long LOADING_PAUSE_MS = 50;

    /** @param waitWhileLoading false for a probe: it waits neither for LOADING nor through a failover */
    private <T> T run(String operation, Function<UnifiedJedis, T> command, boolean blocking,
                      boolean waitWhileLoading) {
        return runOnClients(operation, c -> command.apply(c.jedis()), blocking, waitWhileLoading);
    }

    private <T> T runOnClients(String operation, Function<RedisClients, T> command, boolean blocking,
                               boolean waitWhileLoading) {
        if (config.failsOver() && waitWhileLoading) {
            return runThroughFailover(operation, command, blocking);
        }
        long deadline = System.nanoTime() + config.socketTimeout.toNanos();
        while (true) {
            try {
                return runOnce(operation, command, blocking);
            } catch (RedisReplyException e) {
                if (!waitWhileLoading || !e.is("LOADING")) {
                    throw e;
                }
                pauseWhileLoading(operation, e, deadline);
            }
        }
    }

    private <T> T runOnce(String operation, Function<RedisClients, T> command, boolean blocking) {
        try {
            return command.apply(clients(blocking));
        } catch (JedisException first) {
            if (!isConnectionError(first)) {
                throw translate(operation, first);
            }
            LOG.log(Level.DEBUG, () -> "broker '" + config.brokerName + "': " + operation + " on " + describe()
                    + " failed (" + first.getClass().getSimpleName() + "), retrying once");
            reset(blocking);
            try {
                return command.apply(clients(blocking));
            } catch (JedisException second) {
                BrokerException failure = translate(operation, second);
                if (failure instanceof BrokerConnectionException) {
                    countFailure();
                }
                throw failure;
            }
        }
    }

    /**
     * On a cluster or Sentinel: runs the command, and while it fails as it does during a failover (see
     * {@link #isFailoverError}) runs it again after a short pause, up to {@code failover-timeout}. Each such failure
     * is counted, so that readers deliver again what a broken read may have delivered.
     */
    private <T> T runThroughFailover(String operation, Function<RedisClients, T> command, boolean blocking) {
        long deadline = System.nanoTime() + config.failoverTimeout.toNanos();
        for (int attempt = 0; ; attempt++) {
            try {
                return command.apply(clients(blocking));
            } catch (JedisException e) {
                if (!isFailoverError(e)) {
                    throw translate(operation, e);
                }
                countFailure();
                reset(blocking);
                pauseForFailover(operation, e, attempt, deadline);
            }
        }
    }

    /**
     * Runs a write that must not be done twice (XADD, RPUSH) on one connection of the pool, to the master that holds
     * {@code streams}' first key, so that what was sent is known:
     * <ul>
     *   <li>no connection could be had (refused, unreachable, refused credentials, pool exhausted): nothing was sent;
     *       tried once more, as {@link #execute}, on a cluster or Sentinel until {@code failover-timeout}, then
     *       {@link BrokerConnectionException};</li>
     *   <li>the command was written but no reply came (socket timeout, connection lost): Redis may have run it; never
     *       retried, {@link PublishOutcomeUnknownException};</li>
     *   <li>{@code LOADING}, and on a cluster or Sentinel a refusal of a failover ({@code MOVED}, {@code CLUSTERDOWN},
     *       {@code TRYAGAIN}, {@code READONLY}, {@code MASTERDOWN}): Redis did not run it, it is tried again;</li>
     *   <li>another error reply: {@link RedisReplyException}.</li>
     * </ul>
     * With {@code min-replicas-acked}, a WAIT follows on the same connection; fewer replicas than that within
     * {@code socket-timeout} is {@link PublishOutcomeUnknownException}.
     *
     * @param streams the keys written, all in one slot's node on a cluster; the first one routes the write
     */
    <T> T write(String operation, List<String> streams, Function<Connection, T> command) {
        byte[] key = streams.get(0).getBytes(StandardCharsets.UTF_8);
        long now = System.nanoTime();
        long loadingDeadline = now + config.socketTimeout.toNanos();
        long failoverDeadline = now + config.failoverTimeout.toNanos();
        for (int attempt = 0; ; attempt++) {
            Connection connection;
            try {
                connection = config.failsOver()
                        ? runThroughFailover(operation, c -> c.connectionFor(key), false)
                        : runOnce(operation, c -> c.connectionFor(key), false);
            } catch (RedisReplyException e) {
                if (!e.is("LOADING")) {
                    throw e;
                }
                pauseWhileLoading(operation, e, loadingDeadline); // a new connection's HELLO or SELECT was refused
                continue;
            }
            if (mayBeStale() && !answersPing(connection)) {
                connection.setBroken(); // closed, not sent: a new connection is taken, or none can be had
                connection.close();
                reset(false, key);
                lastWriteNanos = System.nanoTime(); // one check per quiet spell: the next connection is a new one
                if (config.failsOver()) {
                    countFailure();
                    pauseForFailover(operation, null, attempt, failoverDeadline);
                }
                continue;
            }
            try {
                T result = command.apply(connection);
                lastWriteNanos = System.nanoTime();
                if (config.minReplicasAcked > 0) {
                    awaitReplicas(operation, streams, connection);
                }
                return result;
            } catch (JedisException e) {
                if (isConnectionError(e)) {
                    connection.setBroken(); // closed below, it does not go back into the pool
                    reset(false, key);      // its idle neighbours are likely dead too
                    countFailure();
                    throw new PublishOutcomeUnknownException("broker '" + config.brokerName + "': " + operation
                            + " on Redis at " + describe() + " was sent, but no reply came ("
                            + safe(rootMessage(e)) + "): whether Redis stored it is unknown, so it was not retried",
                            e);
                }
                if (config.failsOver() && isFailoverError(e)) {
                    // Refused as a whole (a moved slot, a demoted master): nothing was stored.
                    countFailure();
                    reset(false, key);
                    pauseForFailover(operation, e, attempt, failoverDeadline);
                    continue;
                }
                BrokerException failure = translate(operation, e);
                if (!(failure instanceof RedisReplyException reply) || !reply.is("LOADING")) {
                    throw failure;
                }
                pauseWhileLoading(operation, reply, loadingDeadline);
            } finally {
                connection.close(); // back to the pool
            }
        }
    }

    /**
     * Throws the refusal when every reply of a pipeline is a refusal of a failover (all MOVED, say): nothing was
     * stored, so {@link #write} tries the whole pipeline again. Mixed replies are left to the caller.
     */
    static void throwIfAllRefused(List<? extends Response<?>> responses) {
        JedisDataException first = null;
        for (Response<?> response : responses) {
            try {
                response.get();
                return;
            } catch (JedisDataException e) {
                if (!isFailoverError(e)) {
                    return;
                }
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** WAIT on the connection that wrote: returns once {@code min-replicas-acked} replicas hold what it wrote. */
    private void awaitReplicas(String operation, List<String> streams, Connection connection) {
        int wanted = config.minReplicasAcked;
        long timeoutMs = config.socketTimeout.toMillis();
        int socketTimeout = connection.getSoTimeout();
        long acked;
        try {
            // WAIT blocks up to its timeout: the socket waits for that and a reply's time more.
            connection.setSoTimeout((int) Math.min(Integer.MAX_VALUE, 2 * timeoutMs));
            acked = connection.executeCommand(WAIT_COMMANDS.waitReplicas(wanted, timeoutMs));
            connection.setSoTimeout(socketTimeout);
        } catch (JedisException e) {
            if (isConnectionError(e)) {
                connection.setBroken();
                countFailure();
            }
            throw new PublishOutcomeUnknownException("broker '" + config.brokerName + "': " + operation + " to "
                    + names(streams) + " on Redis at " + describe() + " was stored on the master, but WAIT for "
                    + wanted + " replica(s) (min-replicas-acked) failed (" + safe(rootMessage(e)) + "): whether a "
                    + "replica holds it is unknown", e);
        }
        if (acked < wanted) {
            throw new PublishOutcomeUnknownException("broker '" + config.brokerName + "': " + operation + " to "
                    + names(streams) + " on Redis at " + describe() + " was stored on the master, but only " + acked
                    + " of the " + wanted + " replica(s) min-replicas-acked asks for acknowledged it within "
                    + timeoutMs + " ms (WAIT): if the master fails now it may be lost; it was not retried", null);
        }
    }

    private static final CommandObjects WAIT_COMMANDS = new CommandObjects();

    private static String names(List<String> streams) {
        List<String> distinct = streams.stream().distinct().toList();
        String shown = distinct.stream().limit(3).map(s -> "'" + s + "'")
                .collect(java.util.stream.Collectors.joining(", "));
        return (distinct.size() == 1 ? "stream " : "streams ") + shown
                + (distinct.size() > 3 ? " and " + (distinct.size() - 3) + " more" : "");
    }

    /**
     * Whether the error is one of a failover, which passes by itself: the node cannot be reached, or it refused the
     * command because of where the failover stands (a slot moved or without master, a demoted master, a replica
     * still loading, a blocked read released as the node changed role). Never a refusal of the credentials.
     */
    static boolean isFailoverError(JedisException e) {
        if (find(e, JedisAccessControlException.class) != null) {
            return false;
        }
        if (find(e, JedisConnectionException.class) != null) {
            return true;
        }
        Throwable cluster = find(e, redis.clients.jedis.exceptions.JedisClusterOperationException.class);
        if (cluster != null) {
            // No node answered, or attempts ran out; not Jedis's refusal of keys in several slots.
            return !String.valueOf(cluster.getMessage()).contains("hashslot");
        }
        return e instanceof JedisDataException && startsWithAny(e.getMessage(), "MOVED", "ASK", "CLUSTERDOWN",
                "TRYAGAIN", "READONLY", "MASTERDOWN", "LOADING", "UNBLOCKED");
    }

    /** Pauses before the next attempt through a failover, or throws once {@code failover-timeout} has passed. */
    private void pauseForFailover(String operation, JedisException last, int attempt, long deadline) {
        long pauseMs = Math.min(FAILOVER_PAUSE_MAX_MS, FAILOVER_PAUSE_MIN_MS << Math.min(attempt, 8));
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            throw new BrokerConnectionException("broker '" + config.brokerName + "': " + operation + " on Redis at "
                    + describe() + " failed, Redis could not be reached within failover-timeout ("
                    + config.failoverTimeout.toMillis() + " ms)" + (last == null ? ""
                    : ": " + safe(last instanceof JedisDataException ? last.getMessage() : rootMessage(last)))
                    + (last != null && config.sentinels != null && String.valueOf(rootMessage(last))
                    .contains("All sentinels down") ? " (no Sentinel answered: check that they run, and "
                    + "sentinel-user and sentinel-password, which Jedis does not tell apart)" : ""), last);
        }
        LOG.log(Level.DEBUG, () -> "broker '" + config.brokerName + "': " + operation + " on " + describe()
                + " failed during a failover (" + (last == null ? "no PONG" : last.getClass().getSimpleName())
                + "), trying again");
        try {
            Thread.sleep(Math.max(1, Math.min(pauseMs, TimeUnit.NANOSECONDS.toMillis(left))));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrokerConnectionException("broker '" + config.brokerName + "': " + operation
                    + " interrupted while waiting for a failover", last);
        }
    }

    /** The first pause through a failover; each one after doubles, up to {@link #FAILOVER_PAUSE_MAX_MS}. */
    static final long FAILOVER_PAUSE_MIN_MS = 20;
    /** Short: a failover ends at one moment, and a publish should see that moment. */
    static final long FAILOVER_PAUSE_MAX_MS = 200;

    private boolean mayBeStale() {
        long last = lastWriteNanos;
        return System.nanoTime() - last >= STALE_AFTER_NANOS || lastConnectionErrorNanos - last > 0;
    }

    private static boolean answersPing(Connection connection) {
        try {
            return connection.ping();
        } catch (JedisException e) {
            return false;
        }
    }

    private static boolean isConnectionError(JedisException e) {
        return find(e, JedisConnectionException.class) != null && find(e, JedisAccessControlException.class) == null;
    }

    private void countFailure() {
        failures.incrementAndGet();
    }

    /** Waits a moment for a loading Redis, or throws once the socket timeout has passed. */
    private void pauseWhileLoading(String operation, RedisReplyException loading, long deadline) {
        if (System.nanoTime() - deadline >= 0) {
            countFailure();
            throw new BrokerConnectionException("broker '" + config.brokerName + "': " + operation + " on Redis at "
                    + describe() + " failed, Redis is still loading its data after " + config.socketTimeout.toMillis()
                    + " ms (socket-timeout): " + loading.reply(), loading);
        }
        try {
            Thread.sleep(LOADING_PAUSE_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrokerConnectionException("broker '" + config.brokerName + "': " + operation
                    + " interrupted while Redis is loading its data", loading);
        }
    }

    /**
     * Runs a Lua script by its SHA-1 (EVALSHA), sending its source (EVAL) only when Redis does not have it yet, as
     * after a restart. Needs the EVALSHA and EVAL commands in the user's ACL.
     */
    Object eval(String operation, LuaScript script, List<String> keys, List<String> args) {
        try {
            return execute(operation, j -> j.evalsha(script.sha1(), keys, args));
        } catch (RedisReplyException e) {
            if (!e.is("NOSCRIPT")) {
                throw e;
            }
            return execute(operation, j -> j.eval(script.source(), keys, args));
        }
    }

    /** INFO, as field to value. */
    Map<String, String> serverInfo() {
        return serverInfo(true);
    }

    /** @param wait false for a probe, which waits neither for LOADING nor through a failover */
    private Map<String, String> serverInfo(boolean wait) {
        Map<String, String> values = new HashMap<>();
        for (String line : run("INFO", j -> j.info(), false, wait).split("\r?\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && !line.startsWith("#")) {
                values.put(line.substring(0, colon), line.substring(colon + 1).trim());
            }
        }
        return values;
    }

    /** A number from a Redis reply or INFO field; 0 when absent or not a number. */
    static long parseLong(String text) {
        try {
            return text == null ? 0 : Long.parseLong(text);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Courier's exception for a Jedis exception; the message names the URI without credentials. */
    BrokerException translate(String operation, JedisException e) {
        String where = "broker '" + config.brokerName + "': " + operation + " on Redis at " + describe();
        Throwable accessError = find(e, JedisAccessControlException.class);
        String who = config.user() == null ? "the default user" : "user '" + config.user() + "'";
        if (startsWithAny(e.getMessage(), "NOPERM")) {
            // Authenticated, but the user's ACL does not allow this command or key.
            String reply = safe(e.getMessage());
            return new RedisReplyException(where + " was refused for " + who + ": " + reply
                    + " (check the user's ACL)", reply, e);
        }
        if (accessError != null || startsWithAny(e.getMessage(), "WRONGPASS", "NOAUTH")) {
            String reply = safe(accessError != null ? accessError.getMessage() : e.getMessage());
            return new BrokerConnectionException(where + " was refused for " + who + ": " + reply
                    + " (check the user and password in the uri)", e);
        }
        if (e instanceof JedisConnectionException || find(e, JedisConnectionException.class) != null) {
            return new BrokerConnectionException(where + " failed, Redis cannot be reached (after one retry): "
                    + safe(rootMessage(e)), e);
        }
        if (e instanceof JedisDataException) {
            return new RedisReplyException(where + " failed: " + safe(e.getMessage()), safe(e.getMessage()), e);
        }
        // Pool exhaustion and other client-side failures.
        return new BrokerConnectionException(where + " failed: " + safe(rootMessage(e)), e);
    }

    private String safe(String text) {
        if (text == null) {
            return "";
        }
        String masked = BrokerSettings.maskUserInfo(text);
        String password = config.password();
        String sentinelPassword = config.sentinels == null ? null : config.sentinels.password();
        if (password != null && !password.isEmpty()) {
            masked = masked.replace(password, "***");
        }
        return sentinelPassword == null || sentinelPassword.isEmpty() ? masked
                : masked.replace(sentinelPassword, "***");
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        String message = e.getMessage();
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
            if (t.getMessage() != null) {
                message = t.getClass().getSimpleName() + ": " + t.getMessage();
            }
        }
        return message;
    }

    private static Throwable find(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return t;
            }
        }
        return null;
    }

    private static boolean startsWithAny(String text, String... prefixes) {
        if (text != null) {
            for (String prefix : prefixes) {
                if (text.startsWith(prefix)) {
                    return true;
                }
            }
        }
        return false;
    }

    private RedisClients clients(boolean blocking) {
        RedisClients c = blocking ? blockingClient : client;
        if (c != null) {
            return c;
        }
        synchronized (this) {
            c = blocking ? blockingClient : client;
            if (c == null) {
                c = build(blocking);
                if (blocking) {
                    blockingClient = c;
                } else {
                    client = c;
                }
            }
            return c;
        }
    }

    /** Where {@code stream} lives: streams of one node share pipelines (see {@link XaddCombiner}). */
    Object nodeOf(String stream) {
        if (!config.failsOver()) {
            return "";
        }
        try {
            return clients(false).nodeOf(stream.getBytes(StandardCharsets.UTF_8));
        } catch (JedisException e) {
            return ""; // not connected yet: the write finds out
        }
    }

    /** Whether the keys are in one slot of a cluster (always, on one node or Sentinel). */
    boolean oneSlot(String... keys) {
        if (config.endpoint.topology() != RedisEndpoint.Topology.CLUSTER) {
            return true;
        }
        int slot = JedisClusterCRC16.getSlot(keys[0]);
        for (String key : keys) {
            if (JedisClusterCRC16.getSlot(key) != slot) {
                return false;
            }
        }
        return true;
    }

    /** Whether the uri names a Redis Cluster. */
    boolean isCluster() {
        return config.endpoint.topology() == RedisEndpoint.Topology.CLUSTER;
    }

    private RedisClients build(boolean blocking) {
        // A blocking read holds its socket for up to blockTimeout: its timeout allows for that.
        int socketTimeout = (int) Math.min(Integer.MAX_VALUE,
                config.socketTimeout.toMillis() + (blocking ? blockTimeout.toMillis() : 0));
        DefaultJedisClientConfig.Builder clientConfig = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis((int) config.connectTimeout.toMillis())
                .socketTimeoutMillis(socketTimeout)
                .blockingSocketTimeoutMillis(socketTimeout)
                .database(config.endpoint.database())
                .clientName("courier-" + config.brokerName + (blocking ? "-blocking" : ""))
                .user(config.user())
                .password(config.password())
                .ssl(config.endpoint.ssl());
        if (config.endpoint.ssl()) {
            clientConfig.sslOptions(sslOptions(config.tls));
        }
        DefaultJedisClientConfig sentinelConfig = config.sentinels == null ? null : sentinelConfig();
        ConnectionPoolConfig pool = new ConnectionPoolConfig();
        pool.setMaxTotal(config.poolSize);
        pool.setMaxIdle(config.poolSize);
        pool.setMinIdle(0);
        // Never wait forever for a pooled connection.
        pool.setMaxWait(config.connectTimeout.plus(Duration.ofMillis(socketTimeout)));
        pool.setJmxEnabled(false);
        // Jedis's own retries of a cluster command stay within one socket timeout; Courier's go on to
        // failover-timeout.
        return RedisClients.build(config.endpoint, clientConfig.build(), sentinelConfig, pool,
                Duration.ofMillis(socketTimeout));
    }

    /** How to reach the Sentinels, with their own credentials and TLS. */
    private DefaultJedisClientConfig sentinelConfig() {
        SentinelAccess access = config.sentinels;
        DefaultJedisClientConfig.Builder sentinels = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis((int) config.connectTimeout.toMillis())
                .socketTimeoutMillis((int) Math.min(Integer.MAX_VALUE, config.socketTimeout.toMillis()))
                .clientName("courier-" + config.brokerName + "-sentinel")
                .user(access.user())
                .password(access.password())
                .ssl(access.ssl());
        if (access.ssl()) {
            sentinels.sslOptions(sslOptions(access.tls()));
        }
        return sentinels.build();
    }

    /**
     * What a cluster or Sentinel set reports of its nodes, for health ({@code null} on one node): asked once, with
     * no failover retry, so that a health check never waits for failover-timeout.
     *
     * @throws JedisException no node (or Sentinel) answers
     */
    TopologyHealth topology(java.util.Collection<String> streams) {
        return switch (config.endpoint.topology()) {
            case STANDALONE -> null;
            case CLUSTER -> ClusterTopology.read(
                    ((redis.clients.jedis.RedisClusterClient) clients(false).jedis()).getClusterNodes(), streams);
            case SENTINEL -> SentinelTopology.read(config.endpoint.masterName(), config.endpoint.nodes(),
                    sentinelConfig(), () -> clients(false).jedis().info("replication"));
        };
    }

    private static SslOptions sslOptions(Tls tls) {
        SslOptions.Builder ssl = SslOptions.builder().sslVerifyMode(tls.verifyMode());
        if (tls.truststore() != null) {
            ssl.truststore(new File(tls.truststore()),
                    tls.truststorePassword() == null ? null : tls.truststorePassword().toCharArray());
            if (tls.truststoreType() != null) {
                ssl.trustStoreType(tls.truststoreType());
            }
        }
        return ssl.build();
    }

    private void reset(boolean blocking) {
        reset(blocking, null);
    }

    /** After a connection error with {@code key} (or none): see {@link RedisClients#reset}. */
    private void reset(boolean blocking, byte[] key) {
        lastConnectionErrorNanos = System.nanoTime();
        RedisClients c = blocking ? blockingClient : client;
        if (c != null) {
            try {
                c.reset(key);
            } catch (RuntimeException e) {
                LOG.log(Level.DEBUG, () -> "clearing the pool failed: " + e.getClass().getName());
            }
        }
    }

    /** Closes the clients; the next operation connects again. */
    @Override
    public void close() {
        RedisClients c;
        RedisClients b;
        synchronized (this) {
            c = client;
            b = blockingClient;
            client = null;
            blockingClient = null;
        }
        for (RedisClients each : new RedisClients[] {c, b}) {
            if (each != null) {
                try {
                    each.close();
                } catch (RuntimeException e) {
                    LOG.log(Level.DEBUG, () -> "closing a Redis client failed: " + e.getClass().getName());
                }
            }
        }
    }

    /** A Lua script and its SHA-1, the name Redis caches it under. */
    record LuaScript(String source, String sha1) {

        static LuaScript of(String source) {
            try {
                byte[] digest = MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8));
                return new LuaScript(source, HexFormat.of().formatHex(digest));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-1 is missing from this JVM", e);
            }
        }
    }

    /** Redis answered a command with an error, such as {@code NOGROUP} or {@code LOADING}. */
    static final class RedisReplyException extends BrokerException {
        private static final long serialVersionUID = 1L;
        private final String reply;

        RedisReplyException(String message, String reply, Throwable cause) {
            super(message, cause);
            this.reply = reply;
        }

        /** The error reply, starting with its code ({@code NOGROUP No such key ...}). */
        String reply() {
            return reply;
        }

        boolean is(String code) {
            return reply.startsWith(code);
        }
    }
}
