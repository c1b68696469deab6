package dev.courier.internal.engine;

import dev.courier.engine.EngineMode;
import dev.courier.BrokerConfigurationException;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.Options;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The engine's settings, read from MicroProfile Config by Courier's CDI extension.
 *
 * <table>
 * <caption>Settings</caption>
 * <tr><th>property</th><th>default</th><th>meaning</th></tr>
 * <tr><td>{@code courier.engine.enabled}</td><td>true</td><td>false: no consumption loops at all</td></tr>
 * <tr><td>{@code courier.engine.mode}</td><td>async</td><td>{@code sync}: a publish on an {@code inline} broker
 *     runs the matching subscribers in the publishing thread before it returns (for application tests)</td></tr>
 * <tr><td>{@code courier.engine.batch-size}</td><td>100</td><td>messages read at once per loop</td></tr>
 * <tr><td>{@code courier.engine.block-timeout}</td><td>1 s</td><td>longest wait of a blocking read</td></tr>
 * <tr><td>{@code courier.engine.shutdown-timeout}</td><td>10 s</td><td>how long stopping waits for running
 *     handlers</td></tr>
 * <tr><td>{@code courier.engine.concurrency}</td><td>1</td><td>handlers at once per loop, for subscribers that
 *     declare none</td></tr>
 * <tr><td>{@code courier.subscribers.<group>.concurrency}, {@code .ordering}, {@code .key},
 *     {@code .max-in-flight}</td><td>as declared</td><td>override what the group's {@code @Subscribe}
 *     declares</td></tr>
 * <tr><td>{@code courier.consumer-name}</td><td>host name and process id</td><td>this instance's consumer
 *     name</td></tr>
 * </table>
 *
 * @param enabled         whether the engine runs loops
 * @param mode            async or sync
 * @param batchSize       messages read at once
 * @param blockTimeout    the longest wait of a read on a broker with BLOCKING_READ
 * @param shutdownTimeout how long stopping waits for running handlers
 * @param consumerName    this instance's consumer name
 * @param concurrency     handlers at once per loop where a subscriber declares none
 * @param subscribers     what configuration says of each consumer group, by group
 */
public record EngineSettings(boolean enabled, EngineMode mode, int batchSize, Duration blockTimeout,
                             Duration shutdownTimeout, String consumerName, int concurrency,
                             Map<String, GroupSettings> subscribers) {

    public static final String PREFIX = "courier.";
    public static final String ENABLED = "engine.enabled";
    public static final String MODE = "engine.mode";
    public static final String BATCH_SIZE = "engine.batch-size";
    public static final String BLOCK_TIMEOUT = "engine.block-timeout";
    public static final String SHUTDOWN_TIMEOUT = "engine.shutdown-timeout";
    public static final String CONSUMER_NAME = "consumer-name";
    public static final String CONCURRENCY = "engine.concurrency";
    /** Followed by {@code <group>.<option>}, an option of {@link #SUBSCRIBER_OPTIONS}. */
    public static final String SUBSCRIBERS = "subscribers.";
    public static final List<String> SUBSCRIBER_OPTIONS = List.of("concurrency", "ordering", "key", "max-in-flight");

    /** The options read, without the {@value #PREFIX} prefix. */
    public static final List<String> OPTIONS =
            List.of(ENABLED, MODE, BATCH_SIZE, BLOCK_TIMEOUT, SHUTDOWN_TIMEOUT, CONSUMER_NAME, CONCURRENCY);

    /**
     * A hundred: a backlog is consumed in a third of the time it takes at 10, where the read and acknowledgement
     * round trips, not the handlers, bound a loop; a read never waits to fill a batch, so latency at low rates does
     * not change. A loop holds a batch unprocessed while it works through it, so handlers slower than
     * message-timeout / 100 (3 s at the default 300 s) need a smaller batch.
     */
    public static final int DEFAULT_BATCH_SIZE = 100;

    /** One second: a stop never waits longer than this for a blocking read to return. */
    public static final Duration DEFAULT_BLOCK_TIMEOUT = Duration.ofSeconds(1);

    /** Ten seconds: well inside Open Liberty's 30 s server quiesce. */
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(10);

    public EngineSettings {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(blockTimeout, "blockTimeout");
        Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
        Objects.requireNonNull(consumerName, "consumerName");
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be at least 1, was " + batchSize);
        }
        if (concurrency < 1 || concurrency > Concurrency.MAX_WORKERS) {
            throw new IllegalArgumentException("concurrency must be 1 to " + Concurrency.MAX_WORKERS + ", was "
                    + concurrency);
        }
        subscribers = Map.copyOf(subscribers);
    }

    /** Settings with one handler at a time per loop, unless a subscriber declares more. */
    public EngineSettings(boolean enabled, EngineMode mode, int batchSize, Duration blockTimeout, Duration shutdownTimeout,
                          String consumerName) {
        this(enabled, mode, batchSize, blockTimeout, shutdownTimeout, consumerName, 1, Map.of());
    }

    /** What {@code courier.subscribers.<group>.*} says; {@code null} where it says nothing. */
    public record GroupSettings(Integer concurrency, dev.courier.Subscribe.Ordering ordering, String key,
                                Integer maxInFlight) {
        static final GroupSettings NONE = new GroupSettings(null, null, null, null);
    }

    /** What configuration says of a consumer group. */
    GroupSettings subscriber(String group) {
        return subscribers.getOrDefault(group, GroupSettings.NONE);
    }

    /** The defaults, with the default consumer name. */
    public static EngineSettings defaults() {
        return new EngineSettings(true, EngineMode.ASYNC, DEFAULT_BATCH_SIZE, DEFAULT_BLOCK_TIMEOUT,
                DEFAULT_SHUTDOWN_TIMEOUT, BrokerSettings.defaultConsumerName(), 1, Map.of());
    }

    /**
     * The settings the given values describe, defaults for what is unset. Each invalid value is reported to
     * {@code problems} (naming the property) and replaced by its default, so that every problem is found at once.
     *
     * @param values values by option name ({@link #OPTIONS}), without the {@value #PREFIX} prefix
     */
    public static EngineSettings from(Map<String, String> values, Consumer<BrokerConfigurationException> problems) {
        Options options = new Options(PREFIX, values);
        EngineSettings d = defaults();
        boolean enabled = read(problems, d.enabled, () -> options.getBoolean(ENABLED, d.enabled));
        EngineMode mode = read(problems, d.mode, () -> options.get(MODE).map(text -> parseMode(options, text))
                .orElse(d.mode));
        int batchSize = read(problems, d.batchSize, () -> options.getInt(BATCH_SIZE, d.batchSize, 1));
        Duration blockTimeout = read(problems, d.blockTimeout, () -> {
            Duration value = options.getDuration(BLOCK_TIMEOUT, d.blockTimeout);
            if (value.toMillis() < 1) {
                // Zero would turn a blocking read into a busy poll.
                throw options.invalid(BLOCK_TIMEOUT, "'" + options.get(BLOCK_TIMEOUT).orElse("")
                        + "' is too short; it must be at least 1 ms (0.001)");
            }
            return value;
        });
        Duration shutdownTimeout = read(problems, d.shutdownTimeout,
                () -> options.getDuration(SHUTDOWN_TIMEOUT, d.shutdownTimeout));
        String consumerName = options.get(CONSUMER_NAME).orElse(d.consumerName);
        int concurrency = read(problems, d.concurrency, () -> atMost(options, CONCURRENCY,
                options.getInt(CONCURRENCY, d.concurrency, 1), Concurrency.MAX_WORKERS));
        Map<String, GroupSettings> subscribers = new java.util.TreeMap<>();
        for (String option : values.keySet()) {
            if (!option.startsWith(SUBSCRIBERS)) {
                continue;
            }
            String rest = option.substring(SUBSCRIBERS.length());
            int dot = rest.lastIndexOf('.');
            String name = dot < 0 ? "" : rest.substring(dot + 1);
            if (dot < 1 || !SUBSCRIBER_OPTIONS.contains(name)) {
                problems.accept(options.invalid(option, "is not a subscriber setting; use " + PREFIX + SUBSCRIBERS
                        + "<group>.<setting>, a setting of " + SUBSCRIBER_OPTIONS));
                continue;
            }
            String group = rest.substring(0, dot);
            GroupSettings g = subscribers.getOrDefault(group, GroupSettings.NONE);
            try {
                g = switch (name) {
                    case "concurrency" -> new GroupSettings(atMost(options, option, options.getInt(option, 1, 1),
                            Concurrency.MAX_WORKERS), g.ordering(), g.key(), g.maxInFlight());
                    case "ordering" -> new GroupSettings(g.concurrency(), ordering(options, option), g.key(),
                            g.maxInFlight());
                    case "key" -> new GroupSettings(g.concurrency(), g.ordering(), options.get(option).orElse(""),
                            g.maxInFlight());
                    default -> new GroupSettings(g.concurrency(), g.ordering(), g.key(), atMost(options, option,
                            options.getInt(option, 1, 1), Concurrency.MAX_IN_FLIGHT));
                };
                subscribers.put(group, g);
            } catch (BrokerConfigurationException e) {
                problems.accept(e);
            }
        }
        return new EngineSettings(enabled, mode, batchSize, blockTimeout, shutdownTimeout, consumerName, concurrency,
                subscribers);
    }

    private static int atMost(Options options, String option, int value, int max) {
        if (value > max) {
            throw options.invalid(option, "'" + value + "' is too large; it must be at most " + max);
        }
        return value;
    }

    private static dev.courier.Subscribe.Ordering ordering(Options options, String option) {
        String text = options.get(option).orElse("");
        try {
            return dev.courier.Subscribe.Ordering.valueOf(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw options.invalid(option, "'" + text + "' is not an ordering; use stream, key or none");
        }
    }

    private static <T> T read(Consumer<BrokerConfigurationException> problems, T fallback,
                              java.util.function.Supplier<T> parse) {
        try {
            return parse.get();
        } catch (BrokerConfigurationException e) {
            problems.accept(e);
            return fallback;
        }
    }

    private static EngineMode parseMode(Options options, String text) {
        try {
            return EngineMode.valueOf(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw options.invalid(MODE, "'" + text + "' is not a mode; use async or sync");
        }
    }
}
