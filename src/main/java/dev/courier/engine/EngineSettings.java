package dev.courier.engine;

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
 */
public record EngineSettings(boolean enabled, Mode mode, int batchSize, Duration blockTimeout,
                             Duration shutdownTimeout, String consumerName) {

    public static final String PREFIX = "courier.";
    public static final String ENABLED = "engine.enabled";
    public static final String MODE = "engine.mode";
    public static final String BATCH_SIZE = "engine.batch-size";
    public static final String BLOCK_TIMEOUT = "engine.block-timeout";
    public static final String SHUTDOWN_TIMEOUT = "engine.shutdown-timeout";
    public static final String CONSUMER_NAME = "consumer-name";

    /** The options read, without the {@value #PREFIX} prefix. */
    public static final List<String> OPTIONS =
            List.of(ENABLED, MODE, BATCH_SIZE, BLOCK_TIMEOUT, SHUTDOWN_TIMEOUT, CONSUMER_NAME);

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
    }

    /** The defaults, with the default consumer name. */
    public static EngineSettings defaults() {
        return new EngineSettings(true, Mode.ASYNC, DEFAULT_BATCH_SIZE, DEFAULT_BLOCK_TIMEOUT,
                DEFAULT_SHUTDOWN_TIMEOUT, BrokerSettings.defaultConsumerName());
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
        Mode mode = read(problems, d.mode, () -> options.get(MODE).map(text -> Mode.parse(options, text))
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
        return new EngineSettings(enabled, mode, batchSize, blockTimeout, shutdownTimeout, consumerName);
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

    /** How published messages reach subscribers. */
    public enum Mode {
        /** Loops on their own threads read and dispatch. */
        ASYNC,
        /**
         * As {@link #ASYNC}, and a publish on an {@code inline} broker also runs the matching subscribers in the
         * publishing thread before it returns.
         */
        SYNC;

        static Mode parse(Options options, String text) {
            try {
                return valueOf(text.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw options.invalid(MODE, "'" + text + "' is not a mode; use async or sync");
            }
        }

        /** {@code async} or {@code sync}, as configured. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }
}
