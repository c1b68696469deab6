package dev.courier.redis;

import dev.courier.BrokerConnectionException;
import dev.courier.BrokerException;
import dev.courier.HealthStats;
import dev.courier.PublishOutcomeUnknownException;
import dev.courier.internal.CourierOptions;
import dev.courier.spi.BrokerSettings;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionPoolConfig;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.SslOptions;
import redis.clients.jedis.SslVerifyMode;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;

import java.io.File;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.net.URLDecoder;
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
 * The connection to one Redis server, shared by the Redis providers: parses the {@code uri} and the connection
 * options, builds Jedis clients lazily, retries once after a connection error and turns Jedis's exceptions into
 * Courier's, never with a password in them.
 *
 * <p>Commands go through a pooled {@link UnifiedJedis} (so cluster and sentinel clients can take its place later);
 * blocking reads go through a second pool of their own, so that they never hold the connections that publishing
 * needs.
 */
final class RedisConnection implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");


    /** Where and how to connect. {@link #toString()} shows no password. */
    record Config(String brokerName, String host, int port, boolean ssl, String user, String password, int database,
                  int poolSize, Duration connectTimeout, Duration socketTimeout, String truststore,
                  String truststorePassword, String truststoreType, SslVerifyMode verifyMode) {

        /** The URI without credentials, for messages and health data. */
        String describe() {
            return (ssl ? "rediss://" : "redis://") + (user != null || password != null ? "***@" : "")
                    + (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port + "/" + database;
        }

        @Override
        public String toString() {
            return "RedisConnection.Config[" + describe() + ", pool-size=" + poolSize + "]";
        }

        /** The connection settings of a broker; {@code uri} is required. */
        static Config from(BrokerSettings settings) {
            URI uri = settings.uri("redis", "rediss")
                    .orElseThrow(() -> settings.invalid("uri", "is required by provider '" + settings.provider()
                            + "'; for example redis://localhost:6379/0"));
            String masked = BrokerSettings.maskUserInfo(settings.get("uri").orElse(""));
            boolean ssl = uri.getScheme().equalsIgnoreCase("rediss");
            String user = null;
            String password = null;
            String userInfo = uri.getRawUserInfo();
            if (userInfo != null && !userInfo.isEmpty()) {
                int colon = userInfo.indexOf(':');
                if (colon < 0) {
                    // redis://secret@host: a lone user-info is the password, as redis-cli and Jedis read it.
                    password = decode(userInfo);
                } else {
                    user = colon == 0 ? null : decode(userInfo.substring(0, colon));
                    password = decode(userInfo.substring(colon + 1));
                }
            }
            int database = 0;
            String path = uri.getPath();
            if (path != null && path.length() > 1) {
                try {
                    database = Integer.parseInt(path.substring(1));
                } catch (NumberFormatException e) {
                    database = -1;
                }
                if (database < 0) {
                    throw settings.invalid("uri", "'" + masked + "' names database '" + path.substring(1)
                            + "'; use a number such as redis://host:6379/0");
                }
            }
            int port = uri.getPort() < 0 ? 6379 : uri.getPort();
            String verify = settings.get(CourierOptions.TLS_VERIFY).orElseThrow();
            SslVerifyMode verifyMode = switch (verify.toLowerCase(java.util.Locale.ROOT)) {
                case "full" -> SslVerifyMode.FULL;
                case "ca" -> SslVerifyMode.CA;
                case "none" -> SslVerifyMode.INSECURE;
                default -> throw settings.invalid(CourierOptions.TLS_VERIFY.name(), "'" + verify + "' is not full, ca or none");
            };
            String truststore = settings.get(CourierOptions.TLS_TRUSTSTORE).orElse(null);
            if (truststore != null && !new File(truststore).isFile()) {
                throw settings.invalid(CourierOptions.TLS_TRUSTSTORE.name(), "'" + truststore + "' is not a readable file");
            }
            String host = uri.getHost();
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            return new Config(settings.brokerName(), host, port, ssl, user, password, database,
                    settings.getInt(CourierOptions.POOL_SIZE), settings.getDuration(CourierOptions.CONNECT_TIMEOUT),
                    settings.getDuration(CourierOptions.SOCKET_TIMEOUT), truststore,
                    settings.get(CourierOptions.TLS_TRUSTSTORE_PASSWORD).orElse(null),
                    settings.get(CourierOptions.TLS_TRUSTSTORE_TYPE).orElse(null), verifyMode);
        }

        private static String decode(String text) {
            return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
        }
    }

    private final Config config;
    private final Duration blockTimeout;
    private volatile RedisClient client;
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
    private volatile RedisClient blockingClient;

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
     * its data: {@link #probe} reports that.
     */
    boolean ping() {
        boolean pong = "PONG".equalsIgnoreCase(run("PING", j -> j.ping(), false, false));
        if (pong) {
            lastPong = java.time.Instant.now();
        }
        return pong;
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
            Map<String, String> server = serverInfo();
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
     * socket timeout, then {@link BrokerConnectionException}: a restarting Redis is a connection problem.
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

    /** How long to wait before asking a loading Redis again. */
    static final long LOADING_PAUSE_MS = 50;

    private <T> T run(String operation, Function<UnifiedJedis, T> command, boolean blocking,
                      boolean waitWhileLoading) {
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

    private <T> T runOnce(String operation, Function<UnifiedJedis, T> command, boolean blocking) {
        try {
            return command.apply(client(blocking));
        } catch (JedisException first) {
            if (!isConnectionError(first)) {
                throw translate(operation, first);
            }
            LOG.log(Level.DEBUG, () -> "broker '" + config.brokerName + "': " + operation + " on " + describe()
                    + " failed (" + first.getClass().getSimpleName() + "), retrying once");
            resetPool(blocking);
            try {
                return command.apply(client(blocking));
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
     * Runs a write that must not be done twice (XADD, RPUSH) on one connection of the pool, so that what was sent is
     * known:
     * <ul>
     *   <li>no connection could be had (refused, unreachable, refused credentials, pool exhausted): nothing was sent;
     *       tried once more, as {@link #execute}, then {@link BrokerConnectionException};</li>
     *   <li>the command was written but no reply came (socket timeout, connection lost): Redis may have run it; never
     *       retried, {@link PublishOutcomeUnknownException};</li>
     *   <li>{@code LOADING}: Redis refused it, it is tried again as {@link #execute} does;</li>
     *   <li>another error reply: {@link RedisReplyException}.</li>
     * </ul>
     */
    <T> T write(String operation, Function<Connection, T> command) {
        long deadline = System.nanoTime() + config.socketTimeout.toNanos();
        while (true) {
            Connection connection;
            try {
                connection = runOnce(operation, j -> ((RedisClient) j).getPool().getResource(), false);
            } catch (RedisReplyException e) {
                if (!e.is("LOADING")) {
                    throw e;
                }
                pauseWhileLoading(operation, e, deadline); // a new connection's HELLO or SELECT was refused
                continue;
            }
            if (mayBeStale() && !answersPing(connection)) {
                connection.setBroken(); // closed, not sent: a new connection is taken, or none can be had
                connection.close();
                resetPool(false);
                lastWriteNanos = System.nanoTime(); // one check per quiet spell: the next connection is a new one
                continue;
            }
            try {
                T result = command.apply(connection);
                lastWriteNanos = System.nanoTime();
                return result;
            } catch (JedisException e) {
                if (isConnectionError(e)) {
                    connection.setBroken(); // closed below, it does not go back into the pool
                    resetPool(false);       // its idle neighbours are likely dead too
                    countFailure();
                    throw new PublishOutcomeUnknownException("broker '" + config.brokerName + "': " + operation
                            + " on Redis at " + describe() + " was sent, but no reply came ("
                            + safe(rootMessage(e)) + "): whether Redis stored it is unknown, so it was not retried",
                            e);
                }
                BrokerException failure = translate(operation, e);
                if (!(failure instanceof RedisReplyException reply) || !reply.is("LOADING")) {
                    throw failure;
                }
                pauseWhileLoading(operation, reply, deadline);
            } finally {
                connection.close(); // back to the pool
            }
        }
    }

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
        Map<String, String> values = new HashMap<>();
        for (String line : execute("INFO", j -> j.info()).split("\r?\n")) {
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
        String who = config.user == null ? "the default user" : "user '" + config.user + "'";
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
        return config.password == null || config.password.isEmpty() ? masked : masked.replace(config.password, "***");
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

    private RedisClient client(boolean blocking) {
        RedisClient c = blocking ? blockingClient : client;
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

    private RedisClient build(boolean blocking) {
        // A blocking read holds its socket for up to blockTimeout: its timeout allows for that.
        int socketTimeout = (int) Math.min(Integer.MAX_VALUE,
                config.socketTimeout.toMillis() + (blocking ? blockTimeout.toMillis() : 0));
        DefaultJedisClientConfig.Builder clientConfig = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis((int) config.connectTimeout.toMillis())
                .socketTimeoutMillis(socketTimeout)
                .blockingSocketTimeoutMillis(socketTimeout)
                .database(config.database)
                .clientName("courier-" + config.brokerName + (blocking ? "-blocking" : ""))
                .user(config.user)
                .password(config.password)
                .ssl(config.ssl);
        if (config.ssl) {
            SslOptions.Builder ssl = SslOptions.builder().sslVerifyMode(config.verifyMode);
            if (config.truststore != null) {
                ssl.truststore(new File(config.truststore),
                        config.truststorePassword == null ? null : config.truststorePassword.toCharArray());
                if (config.truststoreType != null) {
                    ssl.trustStoreType(config.truststoreType);
                }
            }
            clientConfig.sslOptions(ssl.build());
        }
        ConnectionPoolConfig pool = new ConnectionPoolConfig();
        pool.setMaxTotal(config.poolSize);
        pool.setMaxIdle(config.poolSize);
        pool.setMinIdle(0);
        // Never wait forever for a pooled connection.
        pool.setMaxWait(config.connectTimeout.plus(Duration.ofMillis(socketTimeout)));
        pool.setJmxEnabled(false);
        return RedisClient.builder()
                .hostAndPort(config.host, config.port)
                .clientConfig(clientConfig.build())
                .poolConfig(pool)
                .build();
    }

    private void resetPool(boolean blocking) {
        lastConnectionErrorNanos = System.nanoTime();
        RedisClient c = blocking ? blockingClient : client;
        if (c != null) {
            try {
                c.getPool().clear();
            } catch (RuntimeException e) {
                LOG.log(Level.DEBUG, () -> "clearing the pool failed: " + e.getClass().getName());
            }
        }
    }

    /** Closes the clients; the next operation connects again. */
    @Override
    public void close() {
        RedisClient c;
        RedisClient b;
        synchronized (this) {
            c = client;
            b = blockingClient;
            client = null;
            blockingClient = null;
        }
        for (RedisClient each : new RedisClient[] {c, b}) {
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
