package dev.courier.telemetry;

import dev.courier.Message;
import dev.courier.engine.GroupMetrics;
import dev.courier.internal.ProteanEnvelope;
import dev.courier.internal.telemetry.Telemetry;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.BatchCallback;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.MeterProvider;
import io.opentelemetry.api.metrics.ObservableLongMeasurement;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.TracerProvider;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Traces and metrics through OpenTelemetry, after its messaging conventions: a {@code send <stream>} PRODUCER span
 * around each publish, a {@code process <stream>} CONSUMER span around each message's handlers (its parent: the
 * publish's span, from the trace context the message carries), {@code nack <stream>} and
 * {@code dead_letter <stream>} settle spans inside it; the publish and handler durations as histograms, the counts,
 * lag, pending entries and consumers per group as observable instruments. Instruments and attributes are made once
 * per stream or loop. Loaded only where the OpenTelemetry API is present.
 */
public final class OpenTelemetryTelemetry implements Telemetry {

    static final String SCOPE = "dev.courier";

    static final AttributeKey<String> SYSTEM = AttributeKey.stringKey("messaging.system");
    static final AttributeKey<String> DESTINATION = AttributeKey.stringKey("messaging.destination.name");
    static final AttributeKey<String> OPERATION_NAME = AttributeKey.stringKey("messaging.operation.name");
    static final AttributeKey<String> OPERATION_TYPE = AttributeKey.stringKey("messaging.operation.type");
    static final AttributeKey<String> MESSAGE_ID = AttributeKey.stringKey("messaging.message.id");
    static final AttributeKey<String> GROUP = AttributeKey.stringKey("messaging.consumer.group.name");
    static final AttributeKey<Long> BATCH_COUNT = AttributeKey.longKey("messaging.batch.message_count");
    static final AttributeKey<String> ERROR_TYPE = AttributeKey.stringKey("error.type");
    /** The Courier broker's configured name (a name, never its URI). */
    static final AttributeKey<String> BROKER = AttributeKey.stringKey("courier.broker");

    /** The conventions' advice for messaging durations, in seconds. */
    private static final List<Double> DURATION_BUCKETS = List.of(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5,
            0.75, 1.0, 2.5, 5.0, 7.5, 10.0);

    private static final TextMapGetter<Map<String, String>> GETTER = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, String> carrier) {
            return carrier.keySet();
        }

        @Override
        public String get(Map<String, String> carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };

    private final W3CTraceContextPropagator propagator = W3CTraceContextPropagator.getInstance();
    /** {@code null}: traces off. */
    private final Tracer tracer;
    /** {@code null}: metrics off. */
    private final Meter meter;
    private final LongCounter sent;
    private final DoubleHistogram sendDuration;
    private final DoubleHistogram processDuration;
    private final List<BatchCallback> callbacks = new ArrayList<>();

    /**
     * @param traces  whether to trace (off where the tracer provider is the no-op one)
     * @param metrics whether to record metrics (off where the meter provider is the no-op one)
     */
    public OpenTelemetryTelemetry(OpenTelemetry openTelemetry, boolean traces, boolean metrics) {
        String version = OpenTelemetryTelemetry.class.getPackage().getImplementationVersion();
        TracerProvider tracers = openTelemetry.getTracerProvider();
        MeterProvider meters = openTelemetry.getMeterProvider();
        this.tracer = traces && tracers != TracerProvider.noop()
                ? tracers.tracerBuilder(SCOPE).setInstrumentationVersion(version == null ? "dev" : version).build()
                : null;
        this.meter = metrics && meters != MeterProvider.noop()
                ? meters.meterBuilder(SCOPE).setInstrumentationVersion(version == null ? "dev" : version).build()
                : null;
        if (meter != null) {
            sent = meter.counterBuilder("messaging.client.sent.messages").setUnit("{message}")
                    .setDescription("Messages published (stored by the broker)").build();
            sendDuration = meter.histogramBuilder("messaging.client.operation.duration").setUnit("s")
                    .setDescription("Duration of publishing (one message, or a batch)")
                    .setExplicitBucketBoundariesAdvice(DURATION_BUCKETS).build();
            processDuration = meter.histogramBuilder("messaging.process.duration").setUnit("s")
                    .setDescription("Duration of handling a message (its handlers, and its settlement on failure)")
                    .setExplicitBucketBoundariesAdvice(DURATION_BUCKETS).build();
        } else {
            sent = null;
            sendDuration = null;
            processDuration = null;
        }
    }

    /** Whether this traces or records anything at all. */
    public boolean active() {
        return tracer != null || meter != null;
    }

    /** Whether it traces. */
    public boolean traced() {
        return tracer != null;
    }

    /** Whether it records metrics. */
    public boolean metered() {
        return meter != null;
    }

    /** {@code messaging.system}: {@code redis} for both Redis providers, else the provider's name. */
    static String system(String provider) {
        return provider.startsWith("redis") ? "redis" : provider;
    }

    @Override
    public Sending sending(String broker, String provider, String stream) {
        Attributes common = Attributes.builder().put(SYSTEM, system(provider)).put(DESTINATION, stream)
                .put(OPERATION_NAME, "send").put(BROKER, broker).build();
        Attributes span = common.toBuilder().put(OPERATION_TYPE, "send").build();
        String name = "send " + stream;
        if (tracer == null) {
            // Metrics alone: one stateless Send for the stream, nothing made per publish.
            Send measured = new Send() {
                @Override
                public void end(long nanos, int stored, String id, Throwable error) {
                    measure(common, nanos, stored, error);
                }
            };
            return (count, traceparent) -> measured;
        }
        return (count, traceparent) -> new Sent(name, span, common, count, traceparent);
    }

    @Override
    public Processing processing(String broker, String provider, String stream, String group) {
        Attributes common = Attributes.builder().put(SYSTEM, system(provider)).put(DESTINATION, stream)
                .put(GROUP, group).put(OPERATION_NAME, "process").put(BROKER, broker).build();
        Attributes span = common.toBuilder().put(OPERATION_TYPE, "process").build();
        Map<Settlement, Attributes> settles = new java.util.EnumMap<>(Settlement.class);
        for (Settlement settlement : Settlement.values()) {
            settles.put(settlement, common.toBuilder().put(OPERATION_NAME, settlement.operation())
                    .put(OPERATION_TYPE, "settle").build());
        }
        String name = "process " + stream;
        if (tracer == null) {
            // Metrics alone: one stateless Process for the loop, nothing made per message.
            Process measured = new Process() {
                @Override
                public void end(long nanos, Throwable error) {
                    recordProcess(common, nanos, error);
                }
            };
            return new Processing() {
                @Override
                public Process start(Message message) {
                    return measured;
                }
            };
        }
        Parents parents = new Parents();
        return new Processing() {
            @Override
            public Process start(Message message) {
                return new Processed(name, stream, span, common, settles, message, parents.of(message));
            }
        };
    }

    /**
     * The parents of one loop's process spans, from the trace context each message carries. The last one is kept:
     * the messages of one traced {@code publishAll} carry the same context, and are read one after the other.
     */
    private final class Parents {
        /** Read and written by the loop or its workers: an immutable pair, so a race costs an extraction. */
        private volatile Extracted last;

        Context of(Message message) {
            Map<String, String> carrier = carrier(message);
            if (carrier.isEmpty()) {
                return Context.root(); // nothing to extract
            }
            Extracted known = last;
            if (known != null && known.carrier().equals(carrier)) {
                return known.context();
            }
            // Context.root(): nothing of the loop thread's context leaks in.
            Context context = propagator.extract(Context.root(), carrier, GETTER);
            last = new Extracted(carrier, context);
            return context;
        }
    }

    private record Extracted(Map<String, String> carrier, Context context) {
    }

    @Override
    public void watch(Supplier<List<GroupMetrics>> groups) {
        if (meter == null) {
            return;
        }
        ObservableLongMeasurement handled = meter.counterBuilder("courier.messages.handled").setUnit("{message}")
                .setDescription("Messages every matching handler processed").buildObserver();
        ObservableLongMeasurement failed = meter.counterBuilder("courier.messages.failed").setUnit("{message}")
                .setDescription("Handlings that threw").buildObserver();
        ObservableLongMeasurement deadLettered = meter.counterBuilder("courier.messages.dead_lettered")
                .setUnit("{message}").setDescription("Messages the consumer dead-lettered").buildObserver();
        ObservableLongMeasurement halted = meter.counterBuilder("courier.messages.halted").setUnit("{message}")
                .setDescription("Messages past max-retries that halted their key (partition-poison=halt), not "
                        + "dead-lettered").buildObserver();
        ObservableLongMeasurement reconnects = meter.counterBuilder("courier.reconnects").setUnit("{reconnect}")
                .setDescription("Times a consumer reached its broker again after failing to").buildObserver();
        ObservableLongMeasurement lag = meter.gaugeBuilder("courier.consumer_group.lag").ofLongs()
                .setUnit("{message}").setDescription("Entries not yet delivered to the group, as the broker reports")
                .buildObserver();
        ObservableLongMeasurement pending = meter.gaugeBuilder("courier.consumer_group.pending").ofLongs()
                .setUnit("{message}").setDescription("Entries delivered to the group and not acknowledged")
                .buildObserver();
        ObservableLongMeasurement consumers = meter.gaugeBuilder("courier.consumer_group.consumers").ofLongs()
                .setUnit("{consumer}").setDescription("Consumers of the group").buildObserver();
        Map<List<String>, Attributes> attributes = new ConcurrentHashMap<>();
        callbacks.add(meter.batchCallback(() -> {
            for (GroupMetrics g : groups.get()) {
                Attributes a = attributes.computeIfAbsent(List.of(g.broker(), g.stream(), g.group()),
                        k -> Attributes.builder().put(DESTINATION, g.stream()).put(GROUP, g.group())
                                .put(BROKER, g.broker()).build());
                handled.record(g.handled(), a);
                failed.record(g.failed(), a);
                deadLettered.record(g.deadLettered(), a);
                halted.record(g.halted(), a);
                reconnects.record(g.reconnects(), a);
                if (g.lag() != null) {
                    lag.record(g.lag(), a);
                }
                if (g.pending() != null) {
                    pending.record(g.pending(), a);
                }
                if (g.consumers() != null) {
                    consumers.record(g.consumers(), a);
                }
            }
        }, handled, failed, deadLettered, halted, reconnects, lag, pending, consumers));
    }

    @Override
    public void close() {
        callbacks.forEach(BatchCallback::close);
        callbacks.clear();
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    private static Attributes withError(Attributes attributes, Throwable error) {
        return error == null ? attributes : attributes.toBuilder().put(ERROR_TYPE, error.getClass().getName()).build();
    }

    /** Marks a span failed with the error's type only: an exception's text may carry a URI with a password. */
    private static void failed(Span span, Throwable error) {
        span.setStatus(StatusCode.ERROR);
        span.setAttribute(ERROR_TYPE, error.getClass().getName());
    }

    private final class Sent implements Send {
        private final Attributes metricAttributes;
        private final Span span;
        private final Scope scope;
        private final Map<String, String> context;

        Sent(String name, Attributes spanAttributes, Attributes metricAttributes, int count, String traceparent) {
            this.metricAttributes = metricAttributes;
            if (tracer == null) {
                span = null;
                scope = null;
                context = Map.of();
                return;
            }
            Context parent = Context.current();
            if (traceparent != null && !Span.fromContext(parent).getSpanContext().isValid()) {
                // No trace on this thread: the Protean event's own traceparent is continued.
                parent = propagator.extract(parent, Map.of("traceparent", traceparent), GETTER);
            }
            SpanBuilder builder = tracer.spanBuilder(name).setParent(parent).setSpanKind(SpanKind.PRODUCER)
                    .setAllAttributes(spanAttributes);
            if (count > 1) {
                builder.setAttribute(BATCH_COUNT, (long) count);
            }
            span = builder.startSpan();
            scope = span.makeCurrent();
            if (span.getSpanContext().isValid()) {
                Map<String, String> carrier = new HashMap<>(4);
                propagator.inject(Context.current(), carrier, Map::put);
                context = carrier;
            } else {
                context = Map.of();
            }
        }

        @Override
        public Map<String, String> context() {
            return context;
        }

        @Override
        public void end(long nanos, int stored, String id, Throwable error) {
            if (span != null) {
                if (id != null) {
                    span.setAttribute(MESSAGE_ID, id);
                }
                if (error != null) {
                    failed(span, error);
                }
                scope.close();
                span.end();
            }
            measure(metricAttributes, nanos, stored, error);
        }
    }

    private void measure(Attributes attributes, long nanos, int stored, Throwable error) {
        if (meter != null) {
            if (stored > 0) {
                sent.add(stored, attributes);
            }
            sendDuration.record(seconds(nanos), withError(attributes, error));
        }
    }

    /**
     * A handling's duration. Recorded in the root context: the process span has ended by then, so there is no span
     * for an exemplar to name, and the thread's current context need not be looked up per message.
     */
    private void recordProcess(Attributes attributes, long nanos, Throwable error) {
        if (meter != null) {
            processDuration.record(seconds(nanos), withError(attributes, error), Context.root());
        }
    }

    private final class Processed implements Process {
        private final String stream;
        private final Attributes metricAttributes;
        private final Map<Settlement, Attributes> settles;
        private final String messageId;
        private final Span span;
        private final Scope scope;

        Processed(String name, String stream, Attributes spanAttributes, Attributes metricAttributes,
                  Map<Settlement, Attributes> settles, Message message, Context parent) {
            this.stream = stream;
            this.metricAttributes = metricAttributes;
            this.settles = settles;
            this.messageId = message.id();
            if (tracer == null) {
                span = null;
                scope = null;
                return;
            }
            // The publish's span is the parent: one message per process span, so one trace from the request that
            // published it to its handling.
            span = tracer.spanBuilder(name).setParent(parent).setSpanKind(SpanKind.CONSUMER)
                    .setAllAttributes(spanAttributes).setAttribute(MESSAGE_ID, messageId).startSpan();
            scope = span.makeCurrent();
        }

        @Override
        public Settle settle(Settlement settlement) {
            if (tracer == null) {
                return Settle.NONE;
            }
            Span settle = tracer.spanBuilder(settlement.operation() + " " + stream).setSpanKind(SpanKind.CLIENT)
                    .setAllAttributes(settles.get(settlement)).setAttribute(MESSAGE_ID, messageId).startSpan();
            return error -> {
                if (error != null) {
                    failed(settle, error);
                }
                settle.end();
            };
        }

        @Override
        public void end(long nanos, Throwable error) {
            if (span != null) {
                if (error != null) {
                    failed(span, error);
                }
                scope.close();
                span.end();
            }
            recordProcess(metricAttributes, nanos, error);
        }
    }

    /** The trace context a message carries: its stream field's, else its Protean envelope's traceparent. */
    static Map<String, String> carrier(Message message) {
        Map<String, String> context = message.traceContext();
        if (!context.isEmpty()) {
            return context;
        }
        String traceparent = ProteanEnvelope.traceparent(message.payload());
        return traceparent == null ? Map.of() : Map.of("traceparent", traceparent);
    }
}
