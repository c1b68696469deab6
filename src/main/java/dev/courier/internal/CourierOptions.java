package dev.courier.internal;

import dev.courier.internal.engine.Concurrency;
import dev.courier.spi.Option;

import java.util.ArrayList;
import java.util.List;

/**
 * Every option Courier reads, declared once: name, type, default, bounds, the providers that take it, and what it
 * does. The providers' {@code options()}, the typed getters ({@link Options}, {@link dev.courier.spi.BrokerSettings})
 * and README's configuration tables all follow this list; {@code ReadmeOptionsTest} fails when README and the list
 * disagree. Not API.
 */
public final class CourierOptions {

    private static final String INLINE = "inline";
    private static final String REDIS = "redis";
    private static final String REDIS_PUBSUB = "redis_pubsub";

    // brokers.<name>.<option>

    public static final Option PROVIDER = Option.text("provider", null,
            "inline, redis, redis_pubsub, or the name of a custom provider; required").takenBy(INLINE, REDIS,
            REDIS_PUBSUB);
    public static final Option URI = Option.text("uri", null,
            "redis://[user:password@]host[:port][/db], rediss:// for TLS; a Redis Cluster "
                    + "redis-cluster://[user:password@]host:port[,host:port...], a Sentinel set "
                    + "redis-sentinel://[user:password@]host:port[,host:port...][/db]#<master-name> (rediss-... for "
                    + "TLS); required by redis and redis_pubsub, ignored by inline")
            .takenBy(INLINE, REDIS, REDIS_PUBSUB);

    public static final Option MAX_RETRIES = Option.integer("max-retries", "3",
            "how often a rejected message is delivered again before it is dead-lettered").atLeast("0")
            .takenBy(INLINE, REDIS);
    public static final Option RETRY_DELAY = Option.duration("retry-delay", "1",
            "delay before the first redelivery").takenBy(INLINE, REDIS);
    public static final Option BACKOFF_MULTIPLIER = Option.decimal("backoff-multiplier", "2",
            "factor applied to the delay for each further redelivery; delays are capped at 1 hour").atLeast("1")
            .takenBy(INLINE, REDIS);
    public static final Option MESSAGE_TIMEOUT = Option.duration("message-timeout", "300",
            "a message held unacknowledged for longer is dead-lettered with reason timeout").takenBy(INLINE, REDIS);
    public static final Option ENABLE_DLQ = Option.bool("enable-dlq", "true",
            "false drops exhausted messages (with a warning) instead of dead-lettering them").takenBy(INLINE, REDIS);
    public static final Option MAX_MESSAGE_SIZE = Option.size("max-message-size", "1MB",
            "the most bytes a message's JSON may have in UTF-8; a larger one is refused on publish, a larger entry "
                    + "dead-lettered (redis) or skipped (redis_pubsub) unparsed").atLeast("1")
            .takenBy(INLINE, REDIS, REDIS_PUBSUB);

    public static final Option POOL_SIZE = Option.integer("pool-size", "8",
            "connections for commands (redis keeps a second pool of this size for blocking reads)").atLeast("1")
            .takenBy(REDIS, REDIS_PUBSUB);
    public static final Option CONNECT_TIMEOUT = Option.duration("connect-timeout", "2",
            "to open a connection").atLeast("0.001").atMost("2147483.647").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option SOCKET_TIMEOUT = Option.duration("socket-timeout", "2",
            "to wait for a reply").atLeast("0.001").atMost("2147483.647").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option TLS_TRUSTSTORE = Option.text("tls-truststore", null,
            "truststore file with the certificates to trust for rediss:// (by default the JVM's)")
            .takenBy(REDIS, REDIS_PUBSUB);
    public static final Option TLS_TRUSTSTORE_PASSWORD = Option.text("tls-truststore-password", null,
            "the truststore's password").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option TLS_TRUSTSTORE_TYPE = Option.text("tls-truststore-type", null,
            "the truststore's type (PKCS12, JKS; by default the file's)").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option TLS_VERIFY = Option.text("tls-verify", "full",
            "full (certificate and host name), ca (certificate only) or none").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option SENTINEL_USER = Option.text("sentinel-user", null,
            "the Sentinels' own user (the uri's credentials are the data nodes')").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option SENTINEL_PASSWORD = Option.text("sentinel-password", null,
            "the Sentinels' own password").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option SENTINEL_TLS = Option.bool("sentinel-tls", null,
            "TLS to the Sentinels; by default as to the data nodes (rediss-sentinel://)").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option SENTINEL_TLS_TRUSTSTORE = Option.text("sentinel-tls-truststore", null,
            "truststore file for the Sentinels' certificates, if they differ from the data nodes' (by default "
                    + "tls-truststore)").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option SENTINEL_TLS_TRUSTSTORE_PASSWORD = Option.text("sentinel-tls-truststore-password",
            null, "its password").takenBy(REDIS, REDIS_PUBSUB);
    /**
     * 10 s: a Redis Cluster promotes a replica about twice cluster-node-timeout after a master dies (about 4 s with a
     * 2 s timeout), Sentinel about down-after-milliseconds plus an election; both fit, and a publisher that would
     * block longer is better told that Redis cannot be reached.
     */
    public static final Option FAILOVER_TIMEOUT = Option.duration("failover-timeout", "10",
            "redis-cluster:// and redis-sentinel://: how long an operation failing with a connection error "
                    + "(CLUSTERDOWN, TRYAGAIN, READONLY, refused or reset) is retried, with short pauses, before "
                    + "BrokerConnectionException; a write that may have reached Redis is never retried")
            .atLeast("0.001").atMost("600").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option MIN_REPLICAS_ACKED = Option.integer("min-replicas-acked", "0",
            "publish and publishAll return only once this many replicas hold the entries (WAIT after each pipeline); "
                    + "fewer within socket-timeout is PublishOutcomeUnknownException; 0 is off").atLeast("0")
            .atMost("100").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option CONSUMER_NAME = Option.text("consumer-name", null,
            "this instance's consumer name in every group, by default courier.consumer-name; keep it stable per "
                    + "instance").takenBy(REDIS);
    /**
     * The broker's bound on every read's wait, whoever asks: the engine's loops ({@link #ENGINE_BLOCK_TIMEOUT}, the
     * shorter wins) and applications calling {@code read} with a wait. Fixed when the broker is built, because the
     * blocking connections' socket timeout allows for it.
     */
    public static final Option BLOCK_TIMEOUT = Option.duration("block-timeout", "1",
            "the most any read on this broker waits on the server, the engine's courier.engine.block-timeout "
                    + "included (the shorter wins); also lengthens the blocking connections' socket timeout")
            .atLeast("0.001").atMost("60").takenBy(REDIS);
    public static final Option MAX_LENGTH = Option.integer("max-length", "0",
            "trim each stream to about this many entries while publishing, never removing one a group has not read "
                    + "(or, on redis, not yet acknowledged); 0 is off").atLeast("0").takenBy(REDIS, REDIS_PUBSUB);
    public static final Option INLINE_MAX_LENGTH = MAX_LENGTH.withDefault("10000").takenBy(INLINE);
    public static final Option RETENTION = Option.duration("retention", "0",
            "remove entries older than this that every group has acknowledged; 0 is off").takenBy(INLINE, REDIS);
    public static final Option DEAD_LETTER_RETENTION = Option.duration("dead-letter-retention", "P7D",
            "dead letters older than this are removed; 0 keeps them for ever").takenBy(INLINE, REDIS);
    public static final Option DEAD_LETTER_ALERT_DEPTH = Option.text("dead-letter-alert-depth", "0",
            "alert when a stream's dead-letter queue holds this many: 100 for every stream, orders=10, payments=5 "
                    + "per stream, or both; 0 is off").takenBy(INLINE, REDIS);
    public static final Option MAINTENANCE_INTERVAL = Option.duration("maintenance-interval", "60",
            "how often retention is applied and dead-letter depths checked").atLeast("0.001").takenBy(INLINE, REDIS);

    public static final Option PARTITION_KEY = Option.text("partition-key.<stream>", null,
            "partitions the stream by this payload field (of data for a Protean event): messages go to "
                    + "<stream>:<key>, each key owned by one instance of a group at a time (see Partitioned streams)")
            .takenBy(REDIS);
    public static final Option PARTITION_KEYS = Option.text("partition-keys", null,
            "partition-key.<stream> for several streams in one key, which an environment variable can set "
                    + "(BROKERS_<NAME>_PARTITION_KEYS): orders=order_id,payments=payment_id").takenBy(REDIS);
    public static final Option PARTITION_POISON = Option.text("partition-poison.<group>", "dead-letter",
            "what a group does with a message of a partitioned stream rejected max-retries times: dead-letter "
                    + "(to <stream>:<key>:dlq, the key goes on) or halt (the key stops until an operator acts, as "
                    + "Protean does; use it in a group shared with Protean)").takenBy(REDIS);
    public static final Option PARTITION_POISONS = Option.text("partition-poisons", null,
            "partition-poison.<group> for several groups in one key, which an environment variable can set "
                    + "(BROKERS_<NAME>_PARTITION_POISONS): app.Billing=halt,app.Audit=dead-letter").takenBy(REDIS);
    public static final Option PARTITION_LEASE_TTL = Option.duration("partition-lease-ttl", "15",
            "lease TTL of a partition key (Protean's lease_ttl_ms); leases are renewed every fifth of it")
            .atLeast("0.1").atMost("3600").takenBy(REDIS);
    public static final Option PARTITION_REAP_IDLE = Option.duration("partition-reap-idle", "3600",
            "an owned partition key that gave no message for this long is reaped as Protean's reap_idle_ms does "
                    + "(SREM, DEL of its stream), only when every group, Courier's known ones included, has "
                    + "finished it; 0 never reaps").takenBy(REDIS);

    public static final Option PRIORITY_LANES = Option.bool("priority-lanes", "false",
            "Protean's priority lanes ([server.priority_lanes] enabled): a message whose metadata.domain.priority is "
                    + "below priority-lanes-threshold goes to <stream>:<backfill-suffix>, read only when <stream> "
                    + "gives nothing; set alike on every Courier and Protean instance of the streams")
            .takenBy(REDIS);
    public static final Option PRIORITY_LANES_THRESHOLD = Option.integer("priority-lanes-threshold", "0",
            "with priority-lanes, a message of a lower priority goes to the backfill lane (Protean's threshold; "
                    + "its levels: BULK -100, LOW -50, NORMAL 0, HIGH 50, CRITICAL 100; no priority is 0)")
            .takenBy(REDIS);
    public static final Option BACKFILL_SUFFIX = Option.text("backfill-suffix", "backfill",
            "with priority-lanes, the backfill lane of <stream> is <stream>:<backfill-suffix> (Protean's "
                    + "backfill_suffix)").takenBy(REDIS);

    /** Every broker option, {@code brokers.<name>.} and the name. */
    public static final List<Option> BROKER = List.of(PROVIDER, URI, MAX_RETRIES, RETRY_DELAY, BACKOFF_MULTIPLIER,
            MESSAGE_TIMEOUT, ENABLE_DLQ, MAX_MESSAGE_SIZE, POOL_SIZE, CONNECT_TIMEOUT, SOCKET_TIMEOUT, TLS_TRUSTSTORE,
            TLS_TRUSTSTORE_PASSWORD, TLS_TRUSTSTORE_TYPE, TLS_VERIFY, SENTINEL_USER, SENTINEL_PASSWORD, SENTINEL_TLS,
            SENTINEL_TLS_TRUSTSTORE, SENTINEL_TLS_TRUSTSTORE_PASSWORD, FAILOVER_TIMEOUT, MIN_REPLICAS_ACKED,
            CONSUMER_NAME, BLOCK_TIMEOUT, MAX_LENGTH, INLINE_MAX_LENGTH, RETENTION, DEAD_LETTER_RETENTION,
            DEAD_LETTER_ALERT_DEPTH, MAINTENANCE_INTERVAL, PARTITION_KEY, PARTITION_KEYS, PARTITION_POISON,
            PARTITION_POISONS, PARTITION_LEASE_TTL, PARTITION_REAP_IDLE, PRIORITY_LANES, PRIORITY_LANES_THRESHOLD,
            BACKFILL_SUFFIX);

    // courier.<option>

    public static final Option ENGINE_ENABLED = Option.bool("engine.enabled", "true",
            "false: no consumption loops at all");
    public static final Option ENGINE_MODE = Option.text("engine.mode", "async",
            "async, or sync: a publish on an inline broker runs the matching subscribers before it returns");
    public static final Option ENGINE_BATCH_SIZE = Option.integer("engine.batch-size", "100",
            "messages a loop reads at once").atLeast("1");
    /** What each loop asks a read to wait; a broker's {@link #BLOCK_TIMEOUT} may cut it shorter. */
    public static final Option ENGINE_BLOCK_TIMEOUT = Option.duration("engine.block-timeout", "1",
            "how long a loop's read waits for messages on a broker with blocking reads (redis), at most the "
                    + "broker's block-timeout; a stop never waits longer for a read").atLeast("0.001");
    public static final Option ENGINE_SHUTDOWN_TIMEOUT = Option.duration("engine.shutdown-timeout", "10",
            "how long stopping waits for running handlers");
    public static final Option ENGINE_CONCURRENCY = Option.integer("engine.concurrency", "1",
            "handlers at once per loop for subscribers that declare no concurrency").atLeast("1")
            .atMost(String.valueOf(Concurrency.MAX_WORKERS));
    public static final Option COURIER_CONSUMER_NAME = Option.text("consumer-name", null,
            "this instance's consumer name in every group (by default the host name, '-' and the process id)");
    public static final Option SUBSCRIBER_CONCURRENCY = Option.integer("subscribers.<group>.concurrency", null,
            "overrides the group's @Subscribe concurrency").atLeast("1")
            .atMost(String.valueOf(Concurrency.MAX_WORKERS));
    public static final Option SUBSCRIBER_ORDERING = Option.text("subscribers.<group>.ordering", null,
            "overrides the group's @Subscribe ordering: stream, key or none");
    public static final Option SUBSCRIBER_KEY = Option.text("subscribers.<group>.key", null,
            "overrides the group's @Subscribe key (a payload field)");
    public static final Option SUBSCRIBER_MAX_IN_FLIGHT = Option.integer("subscribers.<group>.max-in-flight", null,
            "overrides the group's @Subscribe max-in-flight").atLeast("1")
            .atMost(String.valueOf(Concurrency.MAX_IN_FLIGHT));
    public static final Option HEALTH_STUCK_AFTER = Option.duration("health.stuck-after", "300",
            "liveness reports a loop stuck when it has not completed a read cycle for this long").atLeast("0.001");
    public static final Option SE_HEALTH_PORT = Option.integer("se.health-port", "8081",
            "port of the Java SE runner's health endpoints; 0 any free port, -1 none").atLeast("-1").atMost("65535");
    public static final Option TELEMETRY_ENABLED = Option.bool("telemetry.enabled", "true",
            "false: no traces or metrics through OpenTelemetry or MicroProfile Metrics");
    public static final Option TELEMETRY_TRACES = Option.bool("telemetry.traces", "true",
            "false: no spans (metrics as configured)");
    public static final Option TELEMETRY_METRICS = Option.bool("telemetry.metrics", "true",
            "false: no metrics through either API (Engine.metrics() still counts)");

    /** The engine's settings. */
    public static final List<Option> ENGINE = List.of(ENGINE_ENABLED, ENGINE_MODE, ENGINE_BATCH_SIZE,
            ENGINE_BLOCK_TIMEOUT, ENGINE_SHUTDOWN_TIMEOUT, COURIER_CONSUMER_NAME, ENGINE_CONCURRENCY);
    /** The settings of one consumer group. */
    public static final List<Option> SUBSCRIBER = List.of(SUBSCRIBER_CONCURRENCY, SUBSCRIBER_ORDERING,
            SUBSCRIBER_KEY, SUBSCRIBER_MAX_IN_FLIGHT);

    /** Every setting of Courier's own, {@code courier.} and the name. */
    public static final List<Option> COURIER = concat(ENGINE, SUBSCRIBER, List.of(HEALTH_STUCK_AFTER,
            SE_HEALTH_PORT, TELEMETRY_ENABLED, TELEMETRY_TRACES, TELEMETRY_METRICS));

    private CourierOptions() {
    }

    /** The options a built-in provider takes, besides {@code provider} and {@code uri}. */
    public static List<Option> of(String provider) {
        return BROKER.stream().filter(o -> o.isTakenBy(provider) && o != PROVIDER && o != URI).toList();
    }

    /** The full property of a setting of Courier's own: {@code courier.engine.batch-size}. */
    public static String courierProperty(Option option) {
        return "courier." + option.name();
    }

    @SafeVarargs
    private static List<Option> concat(List<Option>... lists) {
        List<Option> all = new ArrayList<>();
        for (List<Option> list : lists) {
            all.addAll(list);
        }
        return List.copyOf(all);
    }
}
