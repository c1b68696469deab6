package dev.courier.telemetry;

import io.opentelemetry.api.OpenTelemetry;
import jakarta.enterprise.inject.spi.BeanManager;

/** Looks up MicroProfile Telemetry's {@code OpenTelemetry} bean; loaded only where its API is present. */
final class OpenTelemetryBeans {

    private OpenTelemetryBeans() {
    }

    static OpenTelemetryTelemetry find(BeanManager beanManager, boolean traces, boolean metrics) {
        OpenTelemetry openTelemetry = TelemetryLookup.bean(beanManager, OpenTelemetry.class);
        return openTelemetry == null ? null : new OpenTelemetryTelemetry(openTelemetry, traces, metrics);
    }
}
