package dev.courier.telemetry;

import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.Message;
import dev.courier.engine.EngineMode;
import dev.courier.inline.InlineBrokerProvider;
import dev.courier.internal.engine.CircuitBreakerSettings;
import dev.courier.internal.engine.Concurrency;
import dev.courier.internal.engine.CourierEngine;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.internal.engine.Subscription;
import dev.courier.internal.telemetry.Telemetry;
import dev.courier.spi.BrokerSettings;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The jar where neither the OpenTelemetry API nor MicroProfile Metrics is: nothing fails to load. */
class WithoutTelemetryApisTest {

    @Test
    void the_engine_publishes_and_handles_where_neither_opentelemetry_nor_microprofile_metrics_is_present()
            throws Exception {
        URL[] classpath = Stream.of(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(entry -> !entry.contains("opentelemetry") && !entry.contains("microprofile-metrics"))
                .map(entry -> {
                    try {
                        return Path.of(entry).toUri().toURL();
                    } catch (java.net.MalformedURLException e) {
                        throw new IllegalStateException(e);
                    }
                }).toArray(URL[]::new);
        try (URLClassLoader withoutApis = new URLClassLoader(classpath, ClassLoader.getPlatformClassLoader())) {
            @SuppressWarnings("unchecked")
            Callable<String> scenario = (Callable<String>) Class.forName(Scenario.class.getName(), true, withoutApis)
                    .getConstructor().newInstance();
            assertEquals("no OpenTelemetry, no MicroProfile Metrics, telemetry NONE, handled 3, published 3",
                    scenario.call());
        }
    }

    /** Runs in a class loader without the two APIs; what it finds, as text. */
    public static final class Scenario implements Callable<String> {

        @Override
        public String call() {
            String apis = (TelemetryLookup.present(TelemetryLookup.OPEN_TELEMETRY) ? "OpenTelemetry" : "no OpenTelemetry")
                    + ", " + (TelemetryLookup.present(TelemetryLookup.METRIC_REGISTRY) ? "MicroProfile Metrics"
                    : "no MicroProfile Metrics");
            // As a server with MicroProfile Telemetry's SDK enabled would configure it.
            Telemetry telemetry = TelemetryLookup.find(null, new SmallRyeConfigBuilder()
                    .withDefaultValue("otel.sdk.disabled", "false").build());
            Broker broker = new InlineBrokerProvider().create("default", new BrokerSettings("default", "inline",
                    Map.of()));
            EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, 10, Duration.ofMillis(100),
                    Duration.ofSeconds(5), "test-consumer");
            CourierEngine engine = CourierEngine.create(settings, new Brokers(Map.of("default", broker)),
                    List.of(new Subscription("default", "orders", "billing", "", Message.class, "Scenario.handle",
                            argument -> { }, CircuitBreakerSettings.OFF, Concurrency.SEQUENTIAL)), telemetry);
            engine.start();
            try {
                broker.publishAll("orders", List.of(Map.of("n", 1), Map.of("n", 2)));
                broker.publish("orders", Map.of("n", 3));
                await().until(() -> engine.metrics().get(0).handled() == 3);
                @SuppressWarnings("unchecked")
                Map<String, Map<String, Object>> published =
                        (Map<String, Map<String, Object>>) broker.healthStats().details().get("published");
                return apis + ", telemetry " + (telemetry == Telemetry.NONE ? "NONE" : telemetry) + ", handled "
                        + engine.metrics().get(0).handled() + ", published " + published.get("orders").get("messages");
            } finally {
                engine.stop();
                broker.close();
            }
        }
    }
}
