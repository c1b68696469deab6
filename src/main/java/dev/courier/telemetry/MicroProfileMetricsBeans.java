package dev.courier.telemetry;

import dev.courier.internal.telemetry.Telemetry;
import jakarta.enterprise.inject.spi.BeanManager;
import org.eclipse.microprofile.metrics.MetricRegistry;

/** Looks up MicroProfile Metrics' application registry; loaded only where its API is present. */
final class MicroProfileMetricsBeans {

    private MicroProfileMetricsBeans() {
    }

    static Telemetry find(BeanManager beanManager) {
        // The default MetricRegistry bean is the application scope's.
        MetricRegistry registry = TelemetryLookup.bean(beanManager, MetricRegistry.class);
        return registry == null ? null : new MicroProfileMetricsTelemetry(registry);
    }
}
