package dev.courier.telemetry;

import dev.courier.internal.telemetry.Telemetry;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.spi.BeanManager;
import jakarta.enterprise.util.AnnotationLiteral;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.annotation.RegistryType;

/** Looks up MicroProfile Metrics' application registry; loaded only where its API is present. */
final class MicroProfileMetricsBeans {

    private MicroProfileMetricsBeans() {
    }

    static Telemetry find(BeanManager beanManager) {
        MetricRegistry registry = applicationRegistry(beanManager);
        return registry == null ? null : new MicroProfileMetricsTelemetry(registry);
    }

    /**
     * By its qualifier, {@code @RegistryType(type = APPLICATION)}, whose producers need no injection point (Payara's
     * default one reads the injection point's annotations, which a lookup does not have); else injected into a bean.
     */
    private static MetricRegistry applicationRegistry(BeanManager beanManager) {
        Instance<MetricRegistry> qualified = beanManager.createInstance().select(MetricRegistry.class,
                new ApplicationRegistry());
        if (qualified.isResolvable()) {
            return qualified.get();
        }
        MetricRegistryHolder holder = TelemetryLookup.bean(beanManager, MetricRegistryHolder.class);
        return holder == null ? null : holder.registry();
    }

    @SuppressWarnings("all")
    private static final class ApplicationRegistry extends AnnotationLiteral<RegistryType> implements RegistryType {
        private static final long serialVersionUID = 1L;

        @Override
        public MetricRegistry.Type type() {
            return MetricRegistry.Type.APPLICATION;
        }
    }
}
