package dev.courier.se;

import dev.courier.internal.ConfigValues;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;
import org.eclipse.microprofile.config.spi.ConfigSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.ServiceConfigurationError;

/** MicroProfile Config as the runner reads it; loaded only where the MicroProfile Config API is present. */
final class MpConfig implements ConfigValues {

    private final Config config;

    private MpConfig(Config config) {
        this.config = config;
    }

    /** The class loader's config, or {@code null} when the API is there but no implementation. */
    static ConfigValues load(ClassLoader loader) {
        try {
            return new MpConfig(ConfigProvider.getConfig(loader));
        } catch (IllegalStateException | ServiceConfigurationError | LinkageError e) {
            return null;
        }
    }

    @Override
    public List<Source> sources() {
        List<Source> sources = new ArrayList<>();
        for (ConfigSource source : config.getConfigSources()) {
            sources.add(new Source(source.getName(), source.getPropertyNames()));
        }
        return sources;
    }

    @Override
    public Optional<String> value(String property) {
        return config.getOptionalValue(property, String.class);
    }
}
