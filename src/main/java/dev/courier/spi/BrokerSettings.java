package dev.courier.spi;

import dev.courier.BrokerConfigurationException;
import dev.courier.internal.CourierOptions;
import dev.courier.internal.Options;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The options of one configured broker ({@code brokers.<name>.<option>}), with typed getters whose errors name the
 * property and its value (masking any password in a URI), shared with Courier's other settings. The getters that take
 * an {@link Option} read it with its declared default and bounds.
 */
public final class BrokerSettings {

    private static final Pattern USER_INFO = Pattern.compile("(?<=//)[^/@]*@");

    /**
     * The option with which every Courier provider bounds a message: the most bytes its JSON text may have in UTF-8.
     * Read it with {@link #getSize}, declare it in {@link BrokerProvider#options()}, and pass it to
     * {@link AbstractBroker}'s constructor, which refuses larger messages on publish.
     */
    public static final String MAX_MESSAGE_SIZE = CourierOptions.MAX_MESSAGE_SIZE.name();

    private final String brokerName;
    private final String provider;
    private final Options options;
    private final String consumerName;

    /**
     * Settings with the default consumer name ({@link #defaultConsumerName()}).
     *
     * @param brokerName the broker's name
     * @param provider   its provider's name
     * @param options    option values by option name ({@code uri}, {@code max-retries}, ...), without the
     *                   {@code brokers.<name>.} prefix
     */
    public BrokerSettings(String brokerName, String provider, Map<String, String> options) {
        this(brokerName, provider, options, defaultConsumerName());
    }

    /**
     * @param consumerName this application instance's consumer name ({@code courier.consumer-name})
     */
    public BrokerSettings(String brokerName, String provider, Map<String, String> options, String consumerName) {
        this.brokerName = brokerName;
        this.provider = provider;
        this.options = new Options("brokers." + brokerName + ".", options);
        this.consumerName = Objects.requireNonNull(consumerName, "consumerName");
    }

    public String brokerName() {
        return brokerName;
    }

    public String provider() {
        return provider;
    }

    /**
     * The name under which this application instance consumes ({@code courier.consumer-name}; by default the host
     * name and a per-JVM suffix). Stable for the life of the instance, so that a broker that tracks consumers within
     * a group (Redis XREADGROUP) sees one consumer per instance, never one per read.
     */
    public String consumerName() {
        return consumerName;
    }

    /** Every option that was set, by option name. Values may hold credentials: never log them. */
    public Map<String, String> options() {
        return options.values();
    }

    /** The full property name of an option: {@code brokers.<name>.<option>}. */
    public String property(String option) {
        return options.property(option);
    }

    /** An option's value, trimmed; empty when unset or blank. */
    public Optional<String> get(String option) {
        return options.get(option);
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
        return options.getInt(option, defaultValue, min);
    }

    /** A finite decimal number of at least {@code min}. */
    public double getDouble(String option, double defaultValue, double min) {
        return options.getDouble(option, defaultValue, min);
    }

    /** {@code true} or {@code false} (any case). */
    public boolean getBoolean(String option, boolean defaultValue) {
        return options.getBoolean(option, defaultValue);
    }

    /**
     * A duration of at least zero, in ISO-8601 ({@code PT1S}, {@code PT0.5S}) or in plain seconds ({@code 1},
     * {@code 0.5}).
     */
    public Duration getDuration(String option, Duration defaultValue) {
        return options.getDuration(option, defaultValue);
    }

    /**
     * A number of bytes of at least 1: plain ({@code 1048576}) or with a unit {@code B}, {@code KB}, {@code MB},
     * {@code GB} (any case; 1024-based: {@code 1MB} is 1048576).
     */
    public long getSize(String option, long defaultValue) {
        return options.getSize(option, defaultValue, 1);
    }

    /** A declared option's value, else its declared default; empty when neither is set. */
    public Optional<String> get(Option option) {
        return options.get(option);
    }

    /** A declared whole-number option, within its bounds; its default when unset. */
    public int getInt(Option option) {
        return options.getInt(option);
    }

    /** A declared decimal option, within its bounds; its default when unset. */
    public double getDouble(Option option) {
        return options.getDouble(option);
    }

    /** A declared true-or-false option; its default when unset. */
    public boolean getBoolean(Option option) {
        return options.getBoolean(option);
    }

    /** A declared duration option, within its bounds; its default when unset. */
    public Duration getDuration(Option option) {
        return options.getDuration(option);
    }

    /** A declared size option, of at least its least (1 byte if it declares none); its default when unset. */
    public long getSize(Option option) {
        return options.getSize(option);
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
        return options.invalid(option, problem);
    }

    /** The text with the user-info of any {@code scheme://user:password@host} replaced by {@code ***}. */
    public static String maskUserInfo(String text) {
        return text == null ? null : USER_INFO.matcher(text).replaceAll("***@");
    }

    /**
     * The consumer name used when {@code courier.consumer-name} is not set: the host name and this JVM's process id,
     * such as {@code app-7f9c-4121}. Unique per instance wherever host names are (containers, VMs) and stable while
     * the JVM runs.
     */
    public static String defaultConsumerName() {
        return DefaultConsumerName.VALUE;
    }

    private static final class DefaultConsumerName {
        static final String VALUE = hostName() + "-" + ProcessHandle.current().pid();

        private static String hostName() {
            // The environment first: resolving the local host can wait on DNS.
            for (String variable : new String[] {"HOSTNAME", "COMPUTERNAME"}) {
                String value = System.getenv(variable);
                if (value != null && !value.isBlank()) {
                    return value.trim();
                }
            }
            try {
                return java.net.InetAddress.getLocalHost().getHostName();
            } catch (java.io.IOException | SecurityException e) {
                return "localhost";
            }
        }
    }

    @Override
    public String toString() {
        return "BrokerSettings[" + brokerName + ", provider=" + provider + ", options=" + options.values().keySet() + "]";
    }
}
