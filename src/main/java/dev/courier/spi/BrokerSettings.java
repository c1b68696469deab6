package dev.courier.spi;

import dev.courier.BrokerConfigurationException;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The options of one configured broker ({@code brokers.<name>.<option>}), with typed getters whose errors name the
 * property and its value (masking any password in a URI).
 */
public final class BrokerSettings {

    private static final Pattern PLAIN_SECONDS = Pattern.compile("-?\\d{1,12}(\\.\\d{1,9})?");
    private static final Pattern USER_INFO = Pattern.compile("(?<=//)[^/@]*@");

    private final String brokerName;
    private final String provider;
    private final Map<String, String> options;

    /**
     * @param brokerName the broker's name
     * @param provider   its provider's name
     * @param options    option values by option name ({@code uri}, {@code max-retries}, ...), without the
     *                   {@code brokers.<name>.} prefix
     */
    public BrokerSettings(String brokerName, String provider, Map<String, String> options) {
        this.brokerName = brokerName;
        this.provider = provider;
        this.options = Collections.unmodifiableMap(new LinkedHashMap<>(options));
    }

    public String brokerName() {
        return brokerName;
    }

    public String provider() {
        return provider;
    }

    /** Every option that was set, by option name. Values may hold credentials: never log them. */
    public Map<String, String> options() {
        return options;
    }

    /** The full property name of an option: {@code brokers.<name>.<option>}. */
    public String property(String option) {
        return "brokers." + brokerName + "." + option;
    }

    /** An option's value, trimmed; empty when unset or blank. */
    public Optional<String> get(String option) {
        String value = options.get(option);
        return value == null || value.isBlank() ? Optional.empty() : Optional.of(value.trim());
    }

    /** An option that must be set. */
    public String require(String option) {
        return get(option).orElseThrow(() -> invalid(option, "is required by provider '" + provider + "'"));
    }

    /** A whole number of at least 0. */
    public int getInt(String option, int defaultValue) {
        return getInt(option, defaultValue, 0);
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
     * The {@code uri} option, parsed; empty when unset. Errors show the URI with its user-info masked.
     *
     * @param schemes the schemes this provider accepts, such as {@code redis} and {@code rediss}
     */
    public Optional<URI> uri(String... schemes) {
        Optional<String> value = get("uri");
        if (value.isEmpty()) {
            return Optional.empty();
        }
        String masked = maskUserInfo(value.get());
        URI uri;
        try {
            uri = new URI(value.get());
        } catch (URISyntaxException e) {
            throw invalid("uri", "'" + masked + "' is not a valid URI");
        }
        if (uri.getScheme() == null || uri.getHost() == null) {
            throw invalid("uri", "'" + masked + "' is not a valid URI; expected a form such as "
                    + (schemes.length > 0 ? schemes[0] : "scheme") + "://host:port");
        }
        if (schemes.length > 0 && java.util.Arrays.stream(schemes).noneMatch(uri.getScheme()::equalsIgnoreCase)) {
            throw invalid("uri", "'" + masked + "' has scheme '" + uri.getScheme() + "'; provider '" + provider
                    + "' accepts " + String.join(", ", schemes));
        }
        return Optional.of(uri);
    }

    /** A configuration error for an option of this broker. */
    public BrokerConfigurationException invalid(String option, String problem) {
        return new BrokerConfigurationException(property(option), problem);
    }

    /** The text with the user-info of any {@code scheme://user:password@host} replaced by {@code ***}. */
    public static String maskUserInfo(String text) {
        return text == null ? null : USER_INFO.matcher(text).replaceAll("***@");
    }

    private static Duration parseDuration(String text) {
        try {
            if (text.length() > 1 && (text.charAt(0) == 'P' || text.charAt(0) == 'p')) {
                return Duration.parse(text);
            }
            if (!PLAIN_SECONDS.matcher(text).matches()) {
                return null;
            }
            return Duration.ofNanos(new java.math.BigDecimal(text).movePointRight(9).longValueExact());
        } catch (DateTimeParseException | ArithmeticException e) {
            return null;
        }
    }

    @Override
    public String toString() {
        return "BrokerSettings[" + brokerName + ", provider=" + provider + ", options=" + options.keySet() + "]";
    }
}
