package dev.courier.telemetry;

import dev.courier.Broker;
import dev.courier.DomainEvent;
import dev.courier.inline.InlineBrokerProvider;
import dev.courier.internal.engine.CourierEngine;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.trace.data.SpanData;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import static dev.courier.telemetry.OtelKit.attribute;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Spans across a publish and its handling, on inline and on a real redis-server, with the SDK's in-memory exporter. */
@WithRedis
class TracingTest {

    private static RedisServer redis;
    private final List<String> handlerTraces = new CopyOnWriteArrayList<>();
    private OtelKit otel;
    private String stream;

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @BeforeEach
    void setUp() {
        otel = new OtelKit();
        stream = "orders-" + UUID.randomUUID();
    }

    @AfterEach
    void tearDown() throws Exception {
        otel.close();
    }

    /** An engine whose handler records the trace it runs in, and fails on messages with {@code fail}; not started. */
    private CourierEngine engine(Broker broker) {
        return otel.engine(broker, stream, "billing", argument -> {
            handlerTraces.add(Span.current().getSpanContext().getTraceId());
            if (((dev.courier.Message) argument).payload().containsKey("fail")) {
                throw new IllegalStateException("declined");
            }
        });
    }

    private CourierEngine start(Broker broker) {
        return otel.started(engine(broker));
    }

    /** Publishes inside a SERVER span, as a JAX-RS request would. @return the request's span */
    private Span publishInRequest(Broker broker, Object message) {
        Span request = otel.sdk.getTracer("test").spanBuilder("POST /orders").setSpanKind(SpanKind.SERVER)
                .startSpan();
        try (Scope ignored = request.makeCurrent()) {
            broker.publish(stream, message);
        } finally {
            request.end();
        }
        return request;
    }

    private SpanData awaitSpan(String name) {
        await().until(() -> otel.spans(name).size() == 1);
        return otel.span(name);
    }

    private void assertOneTrace(Span request, String system) {
        SpanData send = otel.span("send " + stream);
        SpanData process = awaitSpan("process " + stream);
        String trace = request.getSpanContext().getTraceId();
        assertEquals(SpanKind.PRODUCER, send.getKind());
        assertEquals(trace, send.getTraceId());
        assertEquals(request.getSpanContext().getSpanId(), send.getParentSpanId());
        assertEquals(SpanKind.CONSUMER, process.getKind());
        assertEquals(trace, process.getTraceId());
        assertEquals(send.getSpanId(), process.getParentSpanId(), "the publish's span is the handling's parent");
        assertEquals(List.of(trace), handlerTraces, "the handler runs in the process span's trace");

        assertEquals(system, attribute(send, "messaging.system"));
        assertEquals(stream, attribute(send, "messaging.destination.name"));
        assertEquals("send", attribute(send, "messaging.operation.name"));
        assertEquals("send", attribute(send, "messaging.operation.type"));
        String id = attribute(send, "messaging.message.id");
        assertTrue(id != null && !id.isBlank());
        assertEquals(system, attribute(process, "messaging.system"));
        assertEquals(stream, attribute(process, "messaging.destination.name"));
        assertEquals("process", attribute(process, "messaging.operation.name"));
        assertEquals("process", attribute(process, "messaging.operation.type"));
        assertEquals("billing", attribute(process, "messaging.consumer.group.name"));
        assertEquals(id, attribute(process, "messaging.message.id"));
        assertNull(attribute(process, "error.type"));
        assertEquals(StatusCode.UNSET, process.getStatus().getStatusCode());
    }

    @Test
    void a_publish_in_a_request_and_its_handling_are_one_trace_on_inline() {
        Broker broker = otel.inline();
        start(broker);
        Span request = publishInRequest(broker, Map.of("order_id", "42"));
        assertOneTrace(request, "inline");
    }

    @Test
    void a_publish_in_a_request_and_its_handling_are_one_trace_on_redis() {
        Broker broker = otel.redis(redis.uri());
        start(broker);
        Span request = publishInRequest(broker, Map.of("order_id", "42"));
        assertOneTrace(request, "redis");
        SpanData send = otel.span("send " + stream);
        for (SpanData span : otel.spans.getFinishedSpanItems()) {
            span.getAttributes().forEach((key, value) -> assertFalse(String.valueOf(value).contains("redis://"),
                    span.getName() + " shows a URI in " + key));
        }
        // Protean reads data: it comes first, the trace context after it.
        @SuppressWarnings("unchecked")
        List<Object> entries = (List<Object>) redis.command("XRANGE", stream, "-", "+");
        @SuppressWarnings("unchecked")
        List<Object> fields = (List<Object>) ((List<Object>) entries.get(0)).get(1);
        assertEquals("data", text(fields.get(0)));
        assertEquals("traceparent", text(fields.get(2)));
        assertEquals("00-" + send.getTraceId() + "-" + send.getSpanId() + "-"
                + send.getSpanContext().getTraceFlags().asHex(), text(fields.get(3)));
    }

    @Test
    void publishAll_is_one_send_span_with_the_batch_count_and_each_message_continues_it() {
        Broker broker = otel.redis(redis.uri());
        start(broker);
        Span request = otel.sdk.getTracer("test").spanBuilder("batch").startSpan();
        try (Scope ignored = request.makeCurrent()) {
            broker.publishAll(stream, List.of(Map.of("n", 1), Map.of("n", 2), Map.of("n", 3)));
        } finally {
            request.end();
        }
        SpanData send = otel.span("send " + stream);
        assertEquals(3L, send.getAttributes().get(AttributeKey.longKey("messaging.batch.message_count")));
        await().until(() -> otel.spans("process " + stream).size() == 3);
        for (SpanData process : otel.spans("process " + stream)) {
            assertEquals(send.getSpanId(), process.getParentSpanId());
        }
    }

    @Test
    void messages_of_one_read_each_continue_their_own_publish_or_none() {
        Broker broker = otel.redis(redis.uri());
        CourierEngine engine = engine(broker); // its telemetry is the broker's from now on
        Span first = otel.sdk.getTracer("test").spanBuilder("first").startSpan();
        try (Scope ignored = first.makeCurrent()) {
            broker.publishAll(stream, List.of(Map.of("n", 1), Map.of("n", 2)));
        } finally {
            first.end();
        }
        try (Jedis plain = new Jedis(redis.host(), redis.port())) {
            plain.xadd(stream, StreamEntryID.NEW_ENTRY, Map.of("data", "{\"n\": 3}")); // no trace context
        }
        Span second = publishInRequest(broker, Map.of("n", 4));
        // Started after the four are stored: read in one batch, one after the other.
        otel.started(engine);
        await().until(() -> otel.spans("process " + stream).size() == 4);
        List<SpanData> sends = otel.spans("send " + stream);
        assertEquals(List.of(first.getSpanContext().getSpanId(), second.getSpanContext().getSpanId()),
                sends.stream().map(SpanData::getParentSpanId).toList());
        List<String> parents = otel.spans("process " + stream).stream().map(SpanData::getParentSpanId).toList();
        assertEquals(List.of(sends.get(0).getSpanId(), sends.get(0).getSpanId(),
                io.opentelemetry.api.trace.SpanId.getInvalid(), sends.get(1).getSpanId()), parents,
                "the batch's two continue its send span, the plain entry starts a trace, the last continues its own");
    }

    @Test
    void a_protean_events_traceparent_is_continued_by_its_publish_and_handling() {
        Broker broker = otel.inline();
        start(broker);
        String trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        String parent = "00f067aa0ba902b7";
        // No span on this thread: the event's own traceparent (an incoming request's, say) is continued.
        broker.publish(stream, DomainEvent.of("OrderPlaced", Map.of("order_id", "42"))
                .withTraceparent("00-" + trace + "-" + parent + "-01"));
        SpanData send = otel.span("send " + stream);
        SpanData process = awaitSpan("process " + stream);
        assertEquals(trace, send.getTraceId());
        assertEquals(parent, send.getParentSpanId());
        assertEquals(trace, process.getTraceId());
        assertEquals(send.getSpanId(), process.getParentSpanId());
    }

    @Test
    void a_protean_publishers_traceparent_is_continued_on_redis() {
        Broker broker = otel.redis(redis.uri());
        start(broker);
        String trace = "0af7651916cd43dd8448eb211c80319c";
        String parent = "b7ad6b7169203331";
        String envelope = "{\"data\": {\"order_id\": \"42\"}, \"metadata\": {\"headers\": {\"id\": \"e-1\", "
                + "\"type\": \"Interop.OrderPlaced.v1\", \"traceparent\": {\"trace_id\": \"" + trace
                + "\", \"parent_id\": \"" + parent + "\", \"sampled\": true}}, \"domain\": {\"kind\": \"EVENT\"}}}";
        try (Jedis protean = new Jedis(redis.host(), redis.port())) {
            protean.xadd(stream, StreamEntryID.NEW_ENTRY, Map.of("data", envelope));
        }
        SpanData process = awaitSpan("process " + stream);
        assertEquals(trace, process.getTraceId());
        assertEquals(parent, process.getParentSpanId());
    }

    @Test
    void failures_get_error_types_and_their_nack_and_dead_letter_settle_spans() {
        Broker broker = otel.inline();
        start(broker);
        broker.publish(stream, Map.of("fail", true));
        // max-retries 1: delivered twice, rejected twice; the second rejection dead-letters it.
        await().until(() -> otel.spans("dead_letter " + stream).size() == 1);
        await().until(() -> otel.spans("process " + stream).size() == 2);
        List<SpanData> processes = otel.spans("process " + stream);
        for (SpanData process : processes) {
            assertEquals(StatusCode.ERROR, process.getStatus().getStatusCode());
            assertEquals(IllegalStateException.class.getName(), attribute(process, "error.type"));
        }
        SpanData nack = otel.span("nack " + stream);
        SpanData deadLetter = otel.span("dead_letter " + stream);
        assertEquals("settle", attribute(nack, "messaging.operation.type"));
        assertEquals("nack", attribute(nack, "messaging.operation.name"));
        assertEquals("dead_letter", attribute(deadLetter, "messaging.operation.name"));
        assertEquals("billing", attribute(deadLetter, "messaging.consumer.group.name"));
        assertEquals(List.of(nack.getParentSpanId(), deadLetter.getParentSpanId()),
                processes.stream().map(SpanData::getSpanId).toList(), "each settles in its handling's span");
        assertEquals(1L, broker.deadLetterDepth(stream));
    }

    private static String text(Object reply) {
        return reply instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : String.valueOf(reply);
    }
}
