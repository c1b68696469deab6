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
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.RetryPolicy;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.data.PointData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/** The OpenTelemetry SDK with its in-memory span exporter and metric reader, and an engine reporting to it. */
final class OtelKit implements AutoCloseable {

    final InMemorySpanExporter spans = InMemorySpanExporter.create();
    final InMemoryMetricReader metrics = InMemoryMetricReader.create();
    final OpenTelemetrySdk sdk = OpenTelemetrySdk.builder()
            .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build())
            .setMeterProvider(SdkMeterProvider.builder().registerMetricReader(metrics).build())
            .build();
    final OpenTelemetryTelemetry telemetry = new OpenTelemetryTelemetry(sdk, true, true);
    /** What a test made, closed with the kit, last first. */
    private final List<AutoCloseable> closing = new java.util.ArrayList<>();

    /** Closed with the kit. */
    <T extends AutoCloseable> T closing(T resource) {
        closing.add(resource);
        return resource;
    }

    /** An inline broker, {@code default}, that retries once (max-retries 1) after 10 ms. */
    Broker inline() {
        return closing(new InlineBrokerProvider().create("default", new BrokerSettings("default", "inline",
                Map.of(RetryPolicy.MAX_RETRIES, "1", RetryPolicy.RETRY_DELAY, "PT0.01S"))));
    }

    /** A Redis broker, {@code default}, that retries once (max-retries 1) after 10 ms. */
    Broker redis(String uri) {
        return closing(new RedisBrokerProvider().create("default", new BrokerSettings("default", "redis",
                Map.of("uri", uri, RetryPolicy.MAX_RETRIES, "1", RetryPolicy.RETRY_DELAY, "PT0.01S"))));
    }

    /** Starts the engine; stopped with the kit, before its brokers are closed. */
    CourierEngine started(CourierEngine engine) {
        engine.start();
        closing.add(engine::stop);
        return engine;
    }

    /** An engine over one broker, named {@code default}, with one subscriber of {@code Message}s. */
    CourierEngine engine(Broker broker, String stream, String group, Subscription.Invoker handler) {
        EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, 10, Duration.ofMillis(100),
                Duration.ofSeconds(5), "test-consumer");
        return CourierEngine.create(settings, new Brokers(Map.of("default", broker)), List.of(new Subscription(
                "default", stream, group, "", Message.class, "OtelKit.handle(Message)", handler,
                CircuitBreakerSettings.OFF, Concurrency.SEQUENTIAL)), telemetry);
    }

    List<SpanData> spans(String name) {
        return spans.getFinishedSpanItems().stream().filter(s -> s.getName().equals(name)).toList();
    }

    SpanData span(String name) {
        List<SpanData> found = spans(name);
        if (found.size() != 1) {
            throw new AssertionError("one span '" + name + "' expected, found " + spans.getFinishedSpanItems()
                    .stream().map(SpanData::getName).collect(Collectors.toList()));
        }
        return found.get(0);
    }

    static String attribute(SpanData span, String key) {
        return span.getAttributes().get(AttributeKey.stringKey(key));
    }

    /** The metrics now, by name. */
    Map<String, MetricData> collect() {
        Collection<MetricData> all = metrics.collectAllMetrics();
        return all.stream().collect(Collectors.toMap(MetricData::getName, m -> m, (a, b) -> a));
    }

    /** The point of a metric whose attributes include {@code attribute=value}. */
    static PointData point(MetricData metric, String attribute, String value) {
        return metric.getData().getPoints().stream()
                .filter(p -> Objects.equals(p.getAttributes().get(AttributeKey.stringKey(attribute)), value))
                .findFirst().orElseThrow(() -> new AssertionError("no point of " + metric.getName() + " with "
                        + attribute + "=" + value + " in " + metric.getData().getPoints()));
    }

    static long value(MetricData metric, String attribute, String value) {
        return ((LongPointData) point(metric, attribute, value)).getValue();
    }

    @Override
    public void close() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        telemetry.close();
        sdk.close();
    }
}
