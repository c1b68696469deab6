package dev.courier.se;

import dev.courier.internal.ConfigValues;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;

/**
 * The Java SE runner's configuration: MicroProfile Config where an implementation is on the class path, otherwise
 * the same sources and key rules without it: system properties, then environment variables (for
 * {@code brokers.default.provider}: {@code brokers.default.provider}, {@code brokers_default_provider},
 * {@code BROKERS_DEFAULT_PROVIDER}), then every {@code META-INF/microprofile-config.properties} on the class path.
 */
final class SeConfig implements ConfigValues {

    static final String PROPERTIES_FILE = "META-INF/microprofile-config.properties";
    private static final String MP_CONFIG_API = "org.eclipse.microprofile.config.ConfigProvider";

    private final Map<String, String> environment;
    private final Map<String, String> files;

    private SeConfig(Map<String, String> environment, Map<String, String> files) {
        this.environment = environment;
        this.files = files;
    }

    /**
     * The application's configuration, {@code overrides} first.
     *
     * @param overrides values set through the runner's builder, ranked above every source
     */
    static ConfigValues load(Map<String, String> overrides, ClassLoader loader) {
        ConfigValues base = present(MP_CONFIG_API, loader) ? MpConfig.load(loader) : null;
        if (base == null) {
            base = new SeConfig(System.getenv(), readFiles(loader));
        }
        return overrides.isEmpty() ? base : withOverrides(overrides, base);
    }

    /** Whether MicroProfile Config is what the runner reads (an implementation is on the class path). */
    static boolean usesMicroProfileConfig(ClassLoader loader) {
        return present(MP_CONFIG_API, loader) && MpConfig.load(loader) != null;
    }

    private static ConfigValues withOverrides(Map<String, String> overrides, ConfigValues base) {
        return new ConfigValues() {
            @Override
            public List<Source> sources() {
                List<Source> sources = new ArrayList<>();
                sources.add(new Source("CourierRunner.Builder.property", Set.copyOf(overrides.keySet())));
                sources.addAll(base.sources());
                return sources;
            }

            @Override
            public Optional<String> value(String property) {
                String value = overrides.get(property);
                return value != null ? Optional.of(value) : base.value(property);
            }
        };
    }

    @Override
    public List<Source> sources() {
        return List.of(new Source("SystemProperties", System.getProperties().stringPropertyNames()),
                new Source("EnvironmentVariables", Set.copyOf(environment.keySet())),
                new Source(PROPERTIES_FILE, Set.copyOf(files.keySet())));
    }

    @Override
    public Optional<String> value(String property) {
        String value = System.getProperty(property);
        if (value == null) {
            value = fromEnvironment(property);
        }
        if (value == null) {
            value = files.get(property);
        }
        return Optional.ofNullable(value);
    }

    /** MicroProfile Config's rule for environment variables: exact, then non-alphanumerics as _, then upper case. */
    private String fromEnvironment(String property) {
        String value = environment.get(property);
        if (value != null) {
            return value;
        }
        String underscored = property.replaceAll("[^A-Za-z0-9_]", "_");
        value = environment.get(underscored);
        return value != null ? value : environment.get(underscored.toUpperCase(Locale.ROOT));
    }

    private static Map<String, String> readFiles(ClassLoader loader) {
        Map<String, String> values = new LinkedHashMap<>();
        try {
            List<URL> urls = Collections.list(loader.getResources(PROPERTIES_FILE));
            // The first file on the class path wins, as its entries are put last.
            List<URL> reversed = new ArrayList<>(urls);
            Collections.reverse(reversed);
            for (URL url : reversed) {
                Properties properties = new Properties();
                try (InputStream in = url.openStream()) {
                    properties.load(in);
                }
                properties.stringPropertyNames().forEach(name -> values.put(name, properties.getProperty(name)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + PROPERTIES_FILE + ": " + e.getMessage(), e);
        }
        return values;
    }

    static boolean present(String className, ClassLoader loader) {
        try {
            Class.forName(className, false, loader);
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }
}
