package dev.courier.it;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The demo on Open Liberty with MicroProfile Telemetry 2.0 (server-config/telemetry.xml, OTEL_SDK_DISABLED=false),
 * exporting OTLP/HTTP to a receiver this test runs: a request that publishes, and the subscriber's handling, are one
 * trace; Courier's counters arrive.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(Servers.class)
class TelemetryOpenLibertyIT {

    private OtlpReceiver otlp;
    private AppServer server;

    @BeforeAll
    void startServer() throws IOException {
        otlp = new OtlpReceiver();
        server = Servers.acquire(Servers.Kind.OPEN_LIBERTY_TELEMETRY, Map.of(
                "OTEL_SDK_DISABLED", "false",
                "OTEL_SERVICE_NAME", "courier-demo",
                "OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint(),
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
                "OTEL_METRIC_EXPORT_INTERVAL", "1000",
                "OTEL_BSP_SCHEDULE_DELAY", "200",
                "OTEL_LOGS_EXPORTER", "none"));
    }

    @AfterAll
    void stopReceiver() {
        // The server runs on with this receiver's port: stopped now, so that no later class gets it.
        server.stop();
        otlp.close();
    }

    private String publishOrder() throws Exception {
        String order = UUID.randomUUID().toString();
        HttpResponse<String> response =
                server.send(HttpRequest.newBuilder(server.baseUri().resolve("api/streams/orders"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"order_id\": \"" + order + "\"}")));
        assertEquals(200, response.statusCode(), response::body);
        return (String) ((Map<?, ?>) DemoJson.parse(response.body())).get("id");
    }

    private Optional<OtlpReceiver.Span> span(String spanId) {
        return otlp.spans.stream().filter(s -> s.spanId().equals(spanId)).findFirst();
    }

    @Test
    void a_request_that_publishes_and_the_subscriber_that_handles_it_are_one_trace() throws Exception {
        String id = publishOrder();
        OtlpReceiver.Span process = await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .until(() -> otlp.spans.stream().filter(s -> s.name().equals("process orders")
                        && id.equals(s.attributes().get("messaging.message.id"))).findFirst(), Optional::isPresent)
                .orElseThrow();
        assertEquals(OtlpReceiver.Span.CONSUMER, process.kind());
        assertEquals("dev.courier.demo.OrderSubscriber", process.attributes().get("messaging.consumer.group.name"));
        OtlpReceiver.Span send = await().atMost(Duration.ofSeconds(30))
                .until(() -> span(process.parentSpanId()), Optional::isPresent).orElseThrow();
        assertEquals("send orders", send.name());
        assertEquals(OtlpReceiver.Span.PRODUCER, send.kind());
        assertEquals(id, send.attributes().get("messaging.message.id"));
        OtlpReceiver.Span request = await().atMost(Duration.ofSeconds(30))
                .until(() -> span(send.parentSpanId()), Optional::isPresent).orElseThrow();
        assertEquals(OtlpReceiver.Span.SERVER, request.kind(), "the JAX-RS request's span: " + request);
        assertEquals(request.traceId(), send.traceId());
        assertEquals(request.traceId(), process.traceId());
    }

    @Test
    void the_counters_arrive() throws Exception {
        publishOrder();
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).until(() -> otlp.points.stream()
                .anyMatch(p -> p.metric().equals("courier.messages.handled") && p.value() >= 1
                        && "orders".equals(p.attributes().get("messaging.destination.name"))));
        await().atMost(Duration.ofSeconds(30)).until(() -> otlp.points.stream()
                .anyMatch(p -> p.metric().equals("messaging.client.sent.messages") && p.value() >= 1
                        && "orders".equals(p.attributes().get("messaging.destination.name"))));
        await().atMost(Duration.ofSeconds(30)).until(() -> otlp.metricNames.contains("messaging.process.duration"));
    }
}
