package dev.courier.telemetry;

import dev.courier.internal.CourierOptions;
import dev.courier.internal.Options;
import dev.courier.spi.Option;
import java.util.HashMap;
import java.util.Map;
import dev.courier.internal.telemetry.Telemetry;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.spi.BeanManager;
import org.eclipse.microprofile.config.Config;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds, once at deployment, what the server offers: the {@code OpenTelemetry} bean of MicroProfile Telemetry where
 * its SDK is enabled ({@code otel.sdk.disabled=false}), and the application {@code MetricRegistry} of
 * MicroProfile Metrics. Each adapter class is loaded only once its API is known to be there; with neither,
 * {@link Telemetry#NONE}.
 *
 * <p>{@code courier.telemetry.enabled=false} turns both off; {@code courier.telemetry.traces=false} and
 * {@code courier.telemetry.metrics=false} one of them.
 */
public final class TelemetryLookup {

    private static final System.Logger LOG = System.getLogger("dev.courier");

    static final String OPEN_TELEMETRY = "io.opentelemetry.api.OpenTelemetry";
    static final String METRIC_REGISTRY = "org.eclipse.microprofile.metrics.MetricRegistry";

    private TelemetryLookup() {
    }

    public static Telemetry find(BeanManager beanManager, Config config) {
        if (!flag(config, CourierOptions.TELEMETRY_ENABLED)) {
            return Telemetry.NONE;
        }
        boolean traces = flag(config, CourierOptions.TELEMETRY_TRACES);
        boolean metrics = flag(config, CourierOptions.TELEMETRY_METRICS);
        List<Telemetry> found = new ArrayList<>();
        boolean otelMetrics = false;
        // MicroProfile Telemetry's SDK is off unless otel.sdk.disabled=false: then its beans are no-ops, not looked up.
        boolean sdkEnabled = !config.getOptionalValue("otel.sdk.disabled", Boolean.class).orElse(true);
        if ((traces || metrics) && sdkEnabled && present(OPEN_TELEMETRY)) {
            try {
                OpenTelemetryTelemetry otel = OpenTelemetryBeans.find(beanManager, traces, metrics);
                if (otel != null && otel.active()) {
                    found.add(otel);
                    otelMetrics = metrics && otel.metered();
                    LOG.log(Level.INFO, "Courier telemetry: OpenTelemetry ({0}{1})",
                            otel.traced() ? "traces" : "", otelMetrics ? (otel.traced() ? ", metrics" : "metrics") : "");
                }
            } catch (RuntimeException | LinkageError e) {
                LOG.log(Level.WARNING, "Courier telemetry: OpenTelemetry is there but could not be used: " + e);
            }
        }
        // Where OpenTelemetry exports the metrics already, they are not registered twice.
        if (metrics && !otelMetrics && present(METRIC_REGISTRY)) {
            try {
                Telemetry mp = MicroProfileMetricsBeans.find(beanManager);
                if (mp != null) {
                    found.add(mp);
                    LOG.log(Level.INFO, "Courier telemetry: MicroProfile Metrics");
                } else {
                    LOG.log(Level.DEBUG, "Courier telemetry: the MicroProfile Metrics API is there, no registry bean");
                }
            } catch (RuntimeException | LinkageError e) {
                LOG.log(Level.WARNING, "Courier telemetry: MicroProfile Metrics is there but could not be used: " + e);
            }
        }
        return Telemetry.of(found);
    }

    /** A switch, read as its declaration says (an error naming the property for a value not true or false). */
    private static boolean flag(Config config, Option option) {
        Map<String, String> values = new HashMap<>();
        config.getOptionalValue(CourierOptions.courierProperty(option), String.class)
                .ifPresent(v -> values.put(option.name(), v));
        return new Options("courier.", values).getBoolean(option);
    }

    static boolean present(String className) {
        try {
            Class.forName(className, false, TelemetryLookup.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /** The one bean of a type, or {@code null}. */
    static <T> T bean(BeanManager beanManager, Class<T> type) {
        Instance<T> instance = beanManager.createInstance().select(type);
        return instance.isResolvable() ? instance.get() : null;
    }
}
