package dev.courier.telemetry;

import dev.courier.internal.telemetry.Telemetry;
import jakarta.enterprise.inject.spi.BeanManager;
import org.eclipse.microprofile.metrics.MetricRegistry;

/** Looks up MicroProfile Metrics' application registry; loaded only where its API is present. */
final class MicroProfileMetricsBeans {

    private MicroProfileMetricsBeans() {
    }

    static Telemetry find(BeanManager beanManager) {
        // The default MetricRegistry bean is the application scope's; injected, as its producers want.
        MetricRegistryHolder holder = TelemetryLookup.bean(beanManager, MetricRegistryHolder.class);
        MetricRegistry registry = holder == null ? null : holder.registry();
        return registry == null ? null : new MicroProfileMetricsTelemetry(registry);
    }
}
