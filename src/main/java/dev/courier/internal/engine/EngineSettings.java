package dev.courier.internal.engine;

import dev.courier.engine.EngineMode;
import dev.courier.BrokerConfigurationException;
import dev.courier.internal.CourierOptions;
import dev.courier.internal.Options;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.Option;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The engine's settings, read from MicroProfile Config by Courier's CDI extension (and the Java SE runner). The
 * settings, their defaults and bounds are declared in {@link CourierOptions#ENGINE} and
 * {@link CourierOptions#SUBSCRIBER}; README's Configuration reference lists them.
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
    /** Followed by {@code <group>.<option>}, an option of {@link #SUBSCRIBER_OPTIONS}. */
    public static final String SUBSCRIBERS = "subscribers.";
    private static final String GROUP = SUBSCRIBERS + "<group>.";
    /** The names of a group's settings: {@code concurrency}, ... */
    public static final List<String> SUBSCRIBER_OPTIONS = CourierOptions.SUBSCRIBER.stream()
            .map(o -> o.name().substring(GROUP.length())).toList();

    /** The options read, without the {@value #PREFIX} prefix. */
    public static final List<String> OPTIONS = CourierOptions.ENGINE.stream().map(Option::name).toList();

    /**
     * A hundred: a backlog is consumed in a third of the time it takes at 10, where the read and acknowledgement
     * round trips, not the handlers, bound a loop; a read never waits to fill a batch, so latency at low rates does
     * not change. A loop holds a batch unprocessed while it works through it, so handlers slower than
     * message-timeout / 100 (3 s at the default 300 s) need a smaller batch.
     */
    public static final int DEFAULT_BATCH_SIZE;

    /** One second: a stop never waits longer than this for a blocking read to return. */
    public static final Duration DEFAULT_BLOCK_TIMEOUT;

    /** Ten seconds: well inside Open Liberty's 30 s server quiesce. */
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT;

    static {
        Options declared = new Options(PREFIX, Map.of());
        DEFAULT_BATCH_SIZE = declared.getInt(CourierOptions.ENGINE_BATCH_SIZE);
        DEFAULT_BLOCK_TIMEOUT = declared.getDuration(CourierOptions.ENGINE_BLOCK_TIMEOUT);
        DEFAULT_SHUTDOWN_TIMEOUT = declared.getDuration(CourierOptions.ENGINE_SHUTDOWN_TIMEOUT);
    }

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
        Options declared = new Options(PREFIX, Map.of());
        return new EngineSettings(declared.getBoolean(CourierOptions.ENGINE_ENABLED),
                parseMode(declared, declared.get(CourierOptions.ENGINE_MODE).orElseThrow()), DEFAULT_BATCH_SIZE,
                DEFAULT_BLOCK_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT, BrokerSettings.defaultConsumerName(),
                declared.getInt(CourierOptions.ENGINE_CONCURRENCY), Map.of());
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
        boolean enabled = read(problems, d.enabled, () -> options.getBoolean(CourierOptions.ENGINE_ENABLED));
        EngineMode mode = read(problems, d.mode,
                () -> parseMode(options, options.get(CourierOptions.ENGINE_MODE).orElseThrow()));
        int batchSize = read(problems, d.batchSize, () -> options.getInt(CourierOptions.ENGINE_BATCH_SIZE));
        // Its least, 1 ms: zero would turn a blocking read into a busy poll.
        Duration blockTimeout = read(problems, d.blockTimeout,
                () -> options.getDuration(CourierOptions.ENGINE_BLOCK_TIMEOUT));
        Duration shutdownTimeout = read(problems, d.shutdownTimeout,
                () -> options.getDuration(CourierOptions.ENGINE_SHUTDOWN_TIMEOUT));
        String consumerName = options.get(CourierOptions.COURIER_CONSUMER_NAME).orElse(d.consumerName);
        int concurrency = read(problems, d.concurrency, () -> options.getInt(CourierOptions.ENGINE_CONCURRENCY));
        Map<String, GroupSettings> subscribers = new java.util.TreeMap<>();
        for (String option : values.keySet()) {
            if (!option.startsWith(SUBSCRIBERS)) {
                continue;
            }
            String rest = option.substring(SUBSCRIBERS.length());
            int dot = rest.lastIndexOf('.');
            String name = dot < 0 ? "" : rest.substring(dot + 1);
            if (dot < 1 || !SUBSCRIBER_OPTIONS.contains(name)) {
                problems.accept(new BrokerConfigurationException(BrokerConfigurationException.Code.UNKNOWN_OPTION,
                        options.property(option), "is not a subscriber setting; use " + PREFIX + SUBSCRIBERS
                        + "<group>.<setting>, a setting of " + SUBSCRIBER_OPTIONS));
                continue;
            }
            String group = rest.substring(0, dot);
            GroupSettings g = subscribers.getOrDefault(group, GroupSettings.NONE);
            try {
                g = switch (name) {
                    case "concurrency" -> new GroupSettings(options.getInt(ofGroup(CourierOptions
                            .SUBSCRIBER_CONCURRENCY, option)), g.ordering(), g.key(), g.maxInFlight());
                    case "ordering" -> new GroupSettings(g.concurrency(), ordering(options, option), g.key(),
                            g.maxInFlight());
                    case "key" -> new GroupSettings(g.concurrency(), g.ordering(), options.get(option).orElse(""),
                            g.maxInFlight());
                    default -> new GroupSettings(g.concurrency(), g.ordering(), g.key(), options.getInt(ofGroup(
                            CourierOptions.SUBSCRIBER_MAX_IN_FLIGHT, option)));
                };
                subscribers.put(group, g);
            } catch (BrokerConfigurationException e) {
                problems.accept(e);
            }
        }
        return new EngineSettings(enabled, mode, batchSize, blockTimeout, shutdownTimeout, consumerName, concurrency,
                subscribers);
    }

    /**
     * A group's setting as declared, under the name it was set as ({@code subscribers.orders.concurrency}). It is
     * set, else it would not be read; blank counts as 1, as it did before the declarations.
     */
    private static Option ofGroup(Option declared, String option) {
        return new Option(option, declared.kind(), "1", declared.min(), declared.max(), declared.providers(),
                declared.description());
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
            throw options.invalid(CourierOptions.ENGINE_MODE.name(), "'" + text + "' is not a mode; use async or sync");
        }
    }
}
