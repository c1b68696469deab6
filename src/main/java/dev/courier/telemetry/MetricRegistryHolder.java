package dev.courier.telemetry;

import jakarta.enterprise.context.Dependent;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import org.eclipse.microprofile.metrics.MetricRegistry;

/**
 * The application's {@code MetricRegistry}, injected into a field: servers' producers of it read the injection
 * point's annotations, which a lookup through the bean manager does not give them. Added as a bean by Courier's CDI
 * extension where the MicroProfile Metrics API is present. Not API.
 */
@Dependent
public class MetricRegistryHolder {

    @Inject
    Instance<MetricRegistry> registry;

    /** The registry, or {@code null} where no implementation offers one. */
    MetricRegistry registry() {
        return registry.isResolvable() ? registry.get() : null;
    }
}
