package dev.courier.internal;

import dev.courier.Broker;
import dev.courier.BrokerConfigurationException;
import dev.courier.BrokerConfigurationException.Code;
import dev.courier.Brokers;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the brokers' configuration ({@code brokers.<name>.<option>}) and builds the brokers, collecting every problem
 * instead of stopping at the first. Shared by Courier's CDI extension and the Java SE runner. Not API.
 */
public final class BrokerConfig {

    static final String PREFIX = "brokers.";
    static final String PROVIDER = "provider";
    static final String URI = "uri";

    /** Also matches names that a config source derived from environment variables (brokers.my.broker.provider). */
    private static final Pattern PROVIDER_PROPERTY = Pattern.compile("brokers\\.(.+)\\.provider");
    /** The environment-variable form, BROKERS_DEFAULT_PROVIDER. */
    private static final Pattern PROVIDER_VARIABLE = Pattern.compile("BROKERS_([A-Za-z0-9_]+)_PROVIDER");
    /** A name in environment-variable form: no dots, no lower-case letters. */
    private static final Pattern ENVIRONMENT_VARIABLE = Pattern.compile("[A-Z0-9_]+");

    private final ConfigValues config;
    private final Map<String, BrokerProvider> providers;
    private final String consumerName;
    private final Problems problems;

    /** @param problems where each problem found is added */
    public BrokerConfig(ConfigValues config, Map<String, BrokerProvider> providers, String consumerName,
                        Problems problems) {
        this.config = config;
        this.providers = providers;
        this.consumerName = consumerName;
        this.problems = problems;
    }

    /**
     * Builds every configured broker. Returns {@code null}, with the problems saying why, when any broker's
     * configuration is wrong (or a problem was found before); brokers built before a problem was found are closed
     * again.
     */
    public Brokers build() {
        int before = problems.size();
        Map<String, Broker> built = new LinkedHashMap<>();
        for (String name : brokerNames()) {
            try {
                Broker broker = create(name);
                if (broker != null) {
                    built.put(name, broker);
                }
            } catch (BrokerConfigurationException e) {
                problems.add(e);
            } catch (RuntimeException e) {
                problems.add(Code.PROVIDER_FAILED, PREFIX + name + "." + PROVIDER, "provider '"
                        + providerName(name).orElse("?") + "' failed to create the broker: " + e.getClass().getName()
                        + (e.getMessage() == null ? "" : ": " + BrokerSettings.maskUserInfo(e.getMessage())));
            }
        }
        if (!built.containsKey(Brokers.DEFAULT) && providerName(Brokers.DEFAULT).isEmpty()) {
            problems.add(Code.MISSING_DEFAULT_BROKER, PREFIX + "default.provider", "no default broker is configured; "
                    + "every application needs one, for example brokers.default.provider=inline (environment: "
                    + "BROKERS_DEFAULT_PROVIDER=inline)");
        }
        if (problems.size() > before) {
            built.values().forEach(BrokerConfig::closeQuietly);
            return null;
        }
        return new Brokers(built);
    }

    /** The configured broker names: {@code default} first, then the others in the order the config gives them. */
    public Set<String> brokerNames() {
        Set<String> names = new LinkedHashSet<>();
        if (providerName(Brokers.DEFAULT).isPresent()) {
            names.add(Brokers.DEFAULT);
        }
        for (ConfigValues.Source source : config.sources()) {
            Set<String> sourceNames = source.propertyNames();
            for (String property : sourceNames) {
                Matcher dotted = PROVIDER_PROPERTY.matcher(property);
                // Not the dotted form an environment source derives from a variable (brokers.a.b.provider for
                // BROKERS_A_B_PROVIDER): the variable itself names the broker, a_b.
                if (dotted.matches() && !sourceNames.contains(variableForm(property))) {
                    names.add(dotted.group(1));
                    continue;
                }
                Matcher variable = PROVIDER_VARIABLE.matcher(property);
                if (variable.matches()) {
                    names.add(variable.group(1).toLowerCase(Locale.ROOT));
                }
            }
        }
        return names;
    }

    /** The courier.* engine settings; a misspelt courier.engine.* property is reported, as broker options are. */
    public static EngineSettings engineSettings(ConfigValues config, Problems problems) {
        Map<String, String> values = new LinkedHashMap<>();
        for (String option : EngineSettings.OPTIONS) {
            config.value(EngineSettings.PREFIX + option).ifPresent(value -> values.put(option, value));
        }
        String subscribers = EngineSettings.PREFIX + EngineSettings.SUBSCRIBERS;
        for (String property : config.propertyNames()) {
            if (property.startsWith(subscribers)) {
                config.value(property).ifPresent(value -> values.put(
                        property.substring(EngineSettings.PREFIX.length()), value));
            }
        }
        Set<String> known = new TreeSet<>();
        EngineSettings.OPTIONS.forEach(option -> known.add(variableForm(EngineSettings.PREFIX + option)));
        for (String property : config.propertyNames()) {
            if (variableForm(property).startsWith("COURIER_ENGINE_") && !known.contains(variableForm(property))) {
                problems.add(Code.UNKNOWN_OPTION, property, "is not a Courier engine setting; the settings are "
                        + EngineSettings.OPTIONS.stream().map(o -> EngineSettings.PREFIX + o).toList());
            }
        }
        return EngineSettings.from(values, problems::add);
    }

    /**
     * The providers {@link ServiceLoader} finds through {@code loader}, then {@code more} (CDI beans), by name; two
     * different providers of one name are a problem.
     */
    public static Map<String, BrokerProvider> providers(ClassLoader loader, Iterable<BrokerProvider> more,
                                                        Problems problems) {
        Map<String, BrokerProvider> providers = new TreeMap<>();
        List<BrokerProvider> found = new ArrayList<>();
        try {
            ServiceLoader.load(BrokerProvider.class, loader).forEach(found::add);
        } catch (ServiceConfigurationError e) {
            problems.add(Code.PROVIDER_FAILED, "META-INF/services/" + BrokerProvider.class.getName(),
                    "a broker provider listed there cannot be loaded: " + e.getMessage());
        }
        more.forEach(found::add);
        for (BrokerProvider provider : found) {
            BrokerProvider other = providers.putIfAbsent(provider.name(), provider);
            if (other != null && !sameClass(other, provider)) {
                problems.add(Code.PROVIDER_FAILED, null, "two broker providers are named '" + provider.name()
                        + "': " + other.getClass().getName() + " and " + provider.getClass().getName());
            }
        }
        return providers;
    }

    private static boolean sameClass(BrokerProvider a, BrokerProvider b) {
        // A CDI bean may be a proxy (a subclass) of the class ServiceLoader found.
        return a.getClass().isAssignableFrom(b.getClass()) || b.getClass().isAssignableFrom(a.getClass());
    }

    private Broker create(String name) {
        String providerName = providerName(name).orElseThrow(() -> new BrokerConfigurationException(
                Code.UNKNOWN_PROVIDER, PREFIX + name + "." + PROVIDER, "is not set; available providers: "
                + providers.keySet()));
        BrokerProvider provider = providers.get(providerName);
        if (provider == null) {
            throw new BrokerConfigurationException(Code.UNKNOWN_PROVIDER, PREFIX + name + "." + PROVIDER,
                    "unknown provider '" + providerName + "'; available providers: " + providers.keySet());
        }
        BrokerSettings settings = new BrokerSettings(name, providerName, options(name, provider), consumerName);
        return provider.create(name, settings);
    }

    private Optional<String> providerName(String name) {
        return value(PREFIX + name + "." + PROVIDER);
    }

    /**
     * The options set for a broker. Each option the provider knows is looked up by name, so that every config
     * source (environment variables too) can set it; options found under {@code brokers.<name>.} that the provider
     * does not know are added to the problems, so that a misspelt option does not pass silently.
     */
    private Map<String, String> options(String name, BrokerProvider provider) {
        String prefix = PREFIX + name + ".";
        Set<String> known = new TreeSet<>(provider.options());
        known.add(URI);
        Map<String, String> options = new LinkedHashMap<>();
        Set<String> properties = null; // read once, and only where an option has a placeholder
        for (String option : known) {
            int placeholder = option.indexOf('<');
            if (placeholder < 0) {
                value(prefix + option).ifPresent(v -> options.put(option, v));
            } else {
                // partition-key.<stream>: every property under partition-key., by its full name.
                String under = prefix + option.substring(0, placeholder);
                if (properties == null) {
                    properties = new TreeSet<>();
                    config.propertyNames().forEach(properties::add);
                }
                for (String property : properties) {
                    if (property.startsWith(under) && property.length() > under.length()) {
                        value(property).ifPresent(v -> options.put(property.substring(prefix.length()), v));
                    }
                }
            }
        }
        if (!options.containsKey(URI)) {
            // Protean writes the option in capitals: URI = "redis://localhost:6379/0".
            value(prefix + "URI").ifPresent(v -> options.put(URI, v));
        }
        reportUnknownOptions(name, provider, known);
        return options;
    }

    /**
     * Adds a problem for each property under {@code brokers.<name>.} that is not an option of the provider, named as
     * the user wrote it. Looked up source by source: an environment variable source also reports each variable in a
     * dotted form ({@code BROKERS_X_MAX_RETRYS} as {@code brokers.x.max.retrys}), a name the user never wrote, so the
     * variable is named instead, with the option and key it stands for. The values of the broker's known options are
     * still checked, so a misspelt option does not hide their errors.
     */
    private void reportUnknownOptions(String name, BrokerProvider provider, Set<String> known) {
        String prefix = PREFIX + name + ".";
        String variablePrefix = variableForm(prefix);
        Set<String> knownVariables = new TreeSet<>();
        known.forEach(option -> knownVariables.add(variableForm(option)));
        knownVariables.add(variableForm(PROVIDER));
        // BROKERS_A_B_PROVIDER is broker a_b's, not an option b-provider of broker a.
        List<String> longerBrokers = new ArrayList<>();
        for (String other : brokerNames()) {
            String otherPrefix = variableForm(PREFIX + other + ".");
            if (otherPrefix.length() > variablePrefix.length() && otherPrefix.startsWith(variablePrefix)) {
                longerBrokers.add(otherPrefix);
            }
        }
        Map<String, String> unknown = new LinkedHashMap<>(); // by environment-variable form, so each is named once
        Map<String, String> setAs = new LinkedHashMap<>();
        for (ConfigValues.Source source : config.sources()) {
            Set<String> names = source.propertyNames();
            for (String property : names) {
                if (longerBrokers.stream().anyMatch(variableForm(property)::startsWith)) {
                    continue;
                }
                if (ENVIRONMENT_VARIABLE.matcher(property).matches() && property.startsWith(variablePrefix)) {
                    String rest = property.substring(variablePrefix.length());
                    if (!knownVariables.contains(rest)) {
                        String option = rest.toLowerCase(Locale.ROOT).replace('_', '-');
                        if (unknown.putIfAbsent(variableForm(property), prefix + option) == null) {
                            setAs.put(variableForm(property), " (set as " + origin(source, property) + ")");
                        }
                    }
                } else if (property.startsWith(prefix) && placeholderOption(known, property.substring(prefix.length()))) {
                    continue;
                } else if (property.startsWith(prefix)) {
                    // Compared in environment-variable form: brokers.x.enable.dlq is enable-dlq.
                    String rest = variableForm(property.substring(prefix.length()));
                    if (!knownVariables.contains(rest) && !names.contains(variableForm(property))) {
                        unknown.putIfAbsent(variableForm(property), property);
                    }
                }
            }
        }
        // One problem per unknown option, naming the property; how it was set, where that is not the property.
        unknown.forEach((variable, property) -> problems.add(Code.UNKNOWN_OPTION, property, "is not an option of "
                + "provider '" + provider.name() + "'" + setAs.getOrDefault(variable, "") + "; its options are: "
                + known));
    }

    /** Whether {@code option} is one of a known option with a placeholder: {@code partition-key.orders}. */
    private static boolean placeholderOption(Set<String> known, String option) {
        for (String name : known) {
            int placeholder = name.indexOf('<');
            if (placeholder > 0 && option.length() > placeholder && option.startsWith(name.substring(0, placeholder))) {
                return true;
            }
        }
        return false;
    }

    /** How a name in environment-variable form was set, for messages. */
    private static String origin(ConfigValues.Source source, String property) {
        String sourceName = String.valueOf(source.name());
        return sourceName.toLowerCase(Locale.ROOT).contains("env") ? "environment variable " + property
                : property + " in config source " + sourceName;
    }

    private static String variableForm(String option) {
        return option.replaceAll("[^A-Za-z0-9]", "_").toUpperCase(Locale.ROOT);
    }

    private Optional<String> value(String property) {
        return config.value(property).map(String::trim).filter(v -> !v.isEmpty());
    }

    private static void closeQuietly(Broker broker) {
        try {
            broker.close();
        } catch (RuntimeException ignored) {
            // Deployment is failing already; the configuration problem is what the user must see.
        }
    }
}
