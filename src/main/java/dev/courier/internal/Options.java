package dev.courier.internal;

import dev.courier.BrokerConfigurationException;
import dev.courier.spi.Option;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Text settings under one property prefix, with typed getters whose errors name the full property and its value.
 * {@link dev.courier.spi.BrokerSettings} reads {@code brokers.<name>.<option>} with it, the engine
 * {@code courier.<option>}, so that every Courier setting is parsed, and its errors worded, the same way. The getters
 * that take an {@link Option} read it with its declared default and bounds. Not API.
 *
 * <pre>{@code
 * Options options = new Options("courier.", Map.of("engine.batch-size", "20"));
 * int batch = options.getInt(CourierOptions.BATCH_SIZE);   // errors read "courier.engine.batch-size: ..."
 * }</pre>
 */
public final class Options {

    private static final Pattern PLAIN_SECONDS = Pattern.compile("-?\\d{1,12}(\\.\\d{1,9})?");
    private static final Pattern SIZE = Pattern.compile("(\\d{1,19})\\s*([kmg]?b)?", Pattern.CASE_INSENSITIVE);

    private final String prefix;
    private final Map<String, String> values;

    /**
     * @param prefix the property prefix, with its trailing dot ({@code brokers.orders.}, {@code courier.})
     * @param values values by option name, without the prefix
     */
    public Options(String prefix, Map<String, String> values) {
        this.prefix = prefix;
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** Every option that was set, by option name. Values may hold credentials: never log them. */
    public Map<String, String> values() {
        return values;
    }

    /** The full property name of an option. */
    public String property(String option) {
        return prefix + option;
    }

    /** An option's value, trimmed; empty when unset or blank. */
    public Optional<String> get(String option) {
        String value = values.get(option);
        return value == null || value.isBlank() ? Optional.empty() : Optional.of(value.trim());
    }

    /** A whole number of at least {@code min}. */
    public int getInt(String option, int defaultValue, int min) {
        Optional<String> value = get(option);
        if (value.isEmpty()) {
            return defaultValue;
        }
        int parsed;
        try {
            parsed = Integer.parseInt(value.get());
        } catch (NumberFormatException e) {
            throw invalid(option, "'" + value.get() + "' is not a whole number");
        }
        if (parsed < min) {
            throw invalid(option, "'" + value.get() + "' is " + (parsed < 0 ? "negative" : "too small")
                    + "; it must be at least " + min);
        }
        return parsed;
    }

    /** A finite decimal number of at least {@code min}. */
    public double getDouble(String option, double defaultValue, double min) {
        Optional<String> value = get(option);
        if (value.isEmpty()) {
            return defaultValue;
        }
        double parsed;
        try {
            parsed = Double.parseDouble(value.get());
        } catch (NumberFormatException e) {
            throw invalid(option, "'" + value.get() + "' is not a number");
        }
        if (!Double.isFinite(parsed) || parsed < min) {
            throw invalid(option, "'" + value.get() + "' is " + (parsed < 0 ? "negative" : "out of range")
                    + "; it must be a number of at least " + min);
        }
        return parsed;
    }

    /** {@code true} or {@code false} (any case). */
    public boolean getBoolean(String option, boolean defaultValue) {
        Optional<String> value = get(option);
        if (value.isEmpty()) {
            return defaultValue;
        }
        if (value.get().equalsIgnoreCase("true")) {
            return true;
        }
        if (value.get().equalsIgnoreCase("false")) {
            return false;
        }
        throw invalid(option, "'" + value.get() + "' is not true or false");
    }

    /**
     * A duration of at least zero, in ISO-8601 ({@code PT1S}, {@code PT0.5S}) or in plain seconds ({@code 1},
     * {@code 0.5}).
     */
    public Duration getDuration(String option, Duration defaultValue) {
        Optional<String> value = get(option);
        if (value.isEmpty()) {
            return defaultValue;
        }
        Duration parsed = parseDuration(value.get());
        if (parsed == null) {
            throw invalid(option, "'" + value.get() + "' is not a duration; use seconds (5, 0.5) or ISO-8601 (PT5S)");
        }
        if (parsed.isNegative()) {
            throw invalid(option, "'" + value.get() + "' is negative");
        }
        return parsed;
    }

    /**
     * A number of bytes of at least {@code min}: plain ({@code 1048576}) or with a unit {@code B}, {@code KB},
     * {@code MB}, {@code GB} (any case; 1024-based, as in {@code redis.conf}: {@code 1MB} is 1048576).
     */
    public long getSize(String option, long defaultValue, long min) {
        Optional<String> value = get(option);
        return value.isEmpty() ? defaultValue : getSize(option, defaultValue, min, value.get());
    }

    private long getSize(String option, long defaultValue, long min, String text) {
        Optional<String> value = Optional.of(text);
        java.util.regex.Matcher m = SIZE.matcher(value.get());
        long parsed = -1;
        if (m.matches()) {
            String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(java.util.Locale.ROOT);
            int shift = switch (unit) {
                case "kb" -> 10;
                case "mb" -> 20;
                case "gb" -> 30;
                default -> 0;
            };
            try {
                parsed = Math.multiplyExact(Long.parseLong(m.group(1)), 1L << shift);
            } catch (ArithmeticException | NumberFormatException e) {
                throw invalid(option, "'" + value.get() + "' is out of range");
            }
        }
        if (parsed < 0) {
            throw invalid(option, "'" + value.get() + "' is not a size; use bytes (1048576) or KB, MB, GB (1MB)");
        }
        if (parsed < min) {
            throw invalid(option, "'" + value.get() + "' is too small; it must be at least " + min + " bytes");
        }
        return parsed;
    }

    /** An option's value, else its declared default; empty when neither is set. */
    public Optional<String> get(Option option) {
        return get(option.name()).or(() -> Optional.ofNullable(option.defaultValue()));
    }

    /** A whole number within the option's bounds, its default when unset. */
    public int getInt(Option option) {
        int value = getInt(option.name(), Integer.parseInt(declaredDefault(option)),
                option.min() == null ? Integer.MIN_VALUE : Integer.parseInt(option.min()));
        if (option.max() != null && value > Integer.parseInt(option.max())) {
            throw invalid(option.name(), "'" + value + "' is too large; it must be at most " + option.max());
        }
        return value;
    }

    /** A finite decimal number within the option's bounds, its default when unset. */
    public double getDouble(Option option) {
        double value = getDouble(option.name(), Double.parseDouble(declaredDefault(option)),
                option.min() == null ? -Double.MAX_VALUE : Double.parseDouble(option.min()));
        if (option.max() != null && value > Double.parseDouble(option.max())) {
            throw invalid(option.name(), "'" + get(option.name()).orElse("") + "' is too large; it must be at most "
                    + option.max());
        }
        return value;
    }

    /** {@code true} or {@code false}, its default when unset. */
    public boolean getBoolean(Option option) {
        return getBoolean(option.name(), Boolean.parseBoolean(declaredDefault(option)));
    }

    /** A duration within the option's bounds, its default when unset. */
    public Duration getDuration(Option option) {
        Duration value = getDuration(option.name(), parseDuration(declaredDefault(option)));
        String text = get(option.name()).orElse(option.defaultValue());
        if (option.min() != null && value.compareTo(parseDuration(option.min())) < 0) {
            throw invalid(option.name(), "'" + text + "' is too short; it must be at least "
                    + readable(option.min()));
        }
        if (option.max() != null && value.compareTo(parseDuration(option.max())) > 0) {
            throw invalid(option.name(), "'" + text + "' is too long; it must be at most " + readable(option.max()));
        }
        return value;
    }

    /** A number of bytes of at least the option's least (1 if it declares none), its default when unset. */
    public long getSize(Option option) {
        long min = option.min() == null ? 1 : getSize("", 0, 0, option.min());
        return getSize(option.name(), getSize("", 0, 0, declaredDefault(option)), min);
    }

    private static String declaredDefault(Option option) {
        if (option.defaultValue() == null) {
            throw new IllegalStateException("option " + option.name() + " declares no default");
        }
        return option.defaultValue();
    }

    /** A declared duration for messages: {@code 1 ms (0.001)}, {@code 60 s (60)}. */
    private static String readable(String declared) {
        Duration d = parseDuration(declared);
        long ms = d.toMillis();
        return (ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms") + " (" + declared + ")";
    }

    /** A configuration error for an option, naming its full property. */
    public BrokerConfigurationException invalid(String option, String problem) {
        return new BrokerConfigurationException(property(option), problem);
    }

    private static Duration parseDuration(String text) {
        try {
            if (text.length() > 1 && (text.charAt(0) == 'P' || text.charAt(0) == 'p')) {
                return Duration.parse(text);
            }
            if (!PLAIN_SECONDS.matcher(text).matches()) {
                return null;
            }
            return Duration.ofNanos(new BigDecimal(text).movePointRight(9).longValueExact());
        } catch (DateTimeParseException | ArithmeticException e) {
            return null;
        }
    }

    @Override
    public String toString() {
        return "Options[" + prefix + "*: " + values.keySet() + "]";
    }
}
