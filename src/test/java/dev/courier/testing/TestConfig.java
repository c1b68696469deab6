package dev.courier.testing;

import io.smallrye.config.EnvConfigSource;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.eclipse.microprofile.config.spi.ConfigProviderResolver;

import java.util.Map;

/**
 * Makes the given properties the MicroProfile Config of the current thread's class loader, as a server would for a
 * deployed application. Close it to release the config.
 */
public final class TestConfig implements AutoCloseable {

    private final SmallRyeConfig config;

    private TestConfig(SmallRyeConfig config) {
        this.config = config;
    }

    public static TestConfig of(Map<String, String> properties) {
        return of(properties, Map.of());
    }

    /**
     * @param properties       properties in a config source of ordinal 500
     * @param environment      variables as the environment would hold them (BROKERS_DEFAULT_PROVIDER), ordinal 300
     */
    public static TestConfig of(Map<String, String> properties, Map<String, String> environment) {
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        ConfigProviderResolver resolver = ConfigProviderResolver.instance();
        try {
            resolver.releaseConfig(resolver.getConfig(loader));
        } catch (IllegalStateException ignored) {
            // none registered yet
        }
        SmallRyeConfig config = new SmallRyeConfigBuilder()
                .withSources(new PropertiesConfigSource(properties, "test", 500))
                .withSources(new EnvConfigSource(environment, 300))
                .build();
        resolver.registerConfig(config, loader);
        return new TestConfig(config);
    }

    @Override
    public void close() {
        ConfigProviderResolver.instance().releaseConfig(config);
    }
}
