package dev.courier.testkit;

import org.eclipse.microprofile.config.spi.ConfigProviderResolver;

import java.util.ServiceConfigurationError;

/** Releases the current class loader's MicroProfile Config; loaded only where the API is present. */
final class MicroProfileConfig {

    private MicroProfileConfig() {
    }

    static void release() {
        try {
            ConfigProviderResolver resolver = ConfigProviderResolver.instance();
            resolver.releaseConfig(resolver.getConfig());
        } catch (IllegalStateException | ServiceConfigurationError e) {
            // No implementation: nothing is cached.
        }
    }
}
