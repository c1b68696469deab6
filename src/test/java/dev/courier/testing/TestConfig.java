package dev.courier.testing;

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
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        ConfigProviderResolver resolver = ConfigProviderResolver.instance();
        try {
            resolver.releaseConfig(resolver.getConfig(loader));
        } catch (IllegalStateException ignored) {
            // none registered yet
        }
        SmallRyeConfig config = new SmallRyeConfigBuilder()
                .withSources(new PropertiesConfigSource(properties, "test", 500))
                .build();
        resolver.registerConfig(config, loader);
        return new TestConfig(config);
    }

    @Override
    public void close() {
        ConfigProviderResolver.instance().releaseConfig(config);
    }
}
