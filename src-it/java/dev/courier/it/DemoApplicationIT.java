package dev.courier.it;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Predicate;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The demo WAR on a real application server, over HTTP: what a user sees after deploying it. Each server kind
 * has a subclass ({@link OpenLibertyIT}, {@link PayaraMicroIT}), so every case runs on each.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(Servers.class)
abstract class DemoApplicationIT {

    private final HttpClient http = AppServer.httpClient();
    protected AppServer server;

    protected abstract Servers.Kind kind();

    @BeforeAll
    void startServer() {
        server = Servers.acquire(kind());
    }

    @AfterAll
    void checkServerStillRuns() {
        assertTrue(server.isRunning(), () -> server.name() + " died during the tests:\n" + server.tail());
    }

    @Test
    void publish_answers_with_the_message_id() {
        HttpResponse<String> response = post("api/streams/orders",
                "{\"event_type\": \"order.placed\", \"order_id\": \"" + UUID.randomUUID() + "\"}");

        assertEquals(200, response.statusCode(), response::body);
        Map<?, ?> body = assertInstanceOf(Map.class, json(response));
        assertEquals("orders", body.get("stream"));
        assertInstanceOf(String.class, body.get("id"));
        assertFalse(((String) body.get("id")).isBlank(), response.body());
    }

    @Test
    void each_published_message_gets_its_own_id() {
        Object first = ((Map<?, ?>) json(post("api/streams/orders", "{\"n\": 1}"))).get("id");
        Object second = ((Map<?, ?>) json(post("api/streams/orders", "{\"n\": 2}"))).get("id");

        assertNotEquals(first, second);
    }

    @Test
    void publish_refuses_an_empty_message_and_says_why() {
        HttpResponse<String> response = post("api/streams/orders", "{}");

        assertEquals(400, response.statusCode(), response::body);
        String error = (String) ((Map<?, ?>) json(response)).get("error");
        assertTrue(error.contains("empty"), error);
    }

    /** Bad bodies: each gets 400 and a JSON reason, not the server's error page; nothing is sent. */
    @ParameterizedTest(name = "body [{0}] gets 400: {1}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "``                 | empty",
            "`   `              | empty",
            "{\"order_id\": 4    | not valid JSON",
            "not json           | not valid JSON",
            "\"a JSON string\"   | not a string",
            "[{\"a\":1}]          | not an array",
            "42                 | must be a JSON object",
            "null               | not null"})
    void publishRefusesABodyThatIsNotAJsonObjectWithAJsonReason(String body, String reason) {
        HttpResponse<String> response = post("api/streams/orders", body);

        assertEquals(400, response.statusCode(), response::body);
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/json"),
                () -> response.headers().map() + " " + response.body());
        Map<?, ?> answer = assertInstanceOf(Map.class, json(response), response.body());
        String error = (String) answer.get("error");
        assertTrue(error.contains(reason), error);
        assertEquals("not sent", answer.get("outcome"));
    }

    @Test
    void received_answers_a_list() {
        HttpResponse<String> response = get("api/received");

        assertEquals(200, response.statusCode(), response::body);
        assertInstanceOf(List.class, json(response));
    }

    @Test
    void dead_letters_of_a_stream_without_failures_are_an_empty_list() {
        HttpResponse<String> response = get("api/dead-letters/never-failed-" + UUID.randomUUID());

        assertEquals(200, response.statusCode(), response::body);
        assertEquals(List.of(), json(response));
    }

    @ParameterizedTest(name = "/health/{0} is UP")
    @ValueSource(strings = {"ready", "live", "started"})
    void health_probes_are_up(String probe) {
        assertUp(get("health/" + probe));
    }

    @Test
    void health_as_a_whole_is_up() {
        assertUp(get("health"));
    }

    // The demo's subscriber, dev.courier.demo.OrderSubscriber

    @Test
    void the_published_order_reaches_the_subscriber() {
        String orderId = UUID.randomUUID().toString();

        assertEquals(200, post("api/streams/orders",
                "{\"event_type\": \"order.placed\", \"order_id\": \"" + orderId + "\"}").statusCode());

        awaitReceived(entry -> Boolean.TRUE.equals(entry.get("handled")) && payloadHas(entry, orderId),
                Duration.ofSeconds(10));
    }

    @Test
    void an_order_that_always_fails_is_retried_then_dead_lettered() {
        String orderId = UUID.randomUUID().toString();

        assertEquals(200, post("api/streams/orders",
                "{\"event_type\": \"order.placed\", \"order_id\": \"" + orderId + "\", \"fail\": true}").statusCode());

        // max-retries 2 and retry-delay 1 s (the demo's microprofile-config.properties): 3 attempts in about 3 s.
        Map<?, ?> letter = await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
                .until(() -> ((List<?>) json(get("api/dead-letters/orders"))).stream().map(Map.class::cast)
                        .filter(d -> d.toString().contains(orderId)).findFirst(), Optional::isPresent)
                .orElseThrow();
        assertEquals("max_retries_exceeded", letter.get("reason"));
        long failures = ((List<?>) json(get("api/received"))).stream().map(Map.class::cast)
                .filter(e -> Boolean.FALSE.equals(e.get("handled")) && payloadHas(e, orderId)).count();
        assertEquals(3, failures, "attempts: the first delivery and 2 retries");
    }

    // HTTP

    protected HttpResponse<String> get(String path) {
        return server.send(HttpRequest.newBuilder(uri(path)).GET());
    }

    protected HttpResponse<String> post(String path, String json) {
        return server.send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    private URI uri(String path) {
        return server.baseUri().resolve(path);
    }


    protected static Object json(HttpResponse<String> response) {
        try {
            return DemoJson.parse(response.body());
        } catch (RuntimeException e) {
            throw new AssertionError("not JSON (HTTP " + response.statusCode() + "): " + response.body(), e);
        }
    }

    private static void assertUp(HttpResponse<String> response) {
        assertEquals(200, response.statusCode(), response::body);
        assertEquals("UP", ((Map<?, ?>) json(response)).get("status"), response.body());
    }

    private void awaitReceived(Predicate<Map<?, ?>> wanted, Duration timeout) {
        await().atMost(timeout).pollInterval(Duration.ofMillis(200))
                .until(() -> ((List<?>) json(get("api/received"))).stream().map(e -> (Map<?, ?>) e).anyMatch(wanted));
    }

    private static boolean payloadHas(Map<?, ?> entry, String orderId) {
        return entry.get("payload") instanceof Map<?, ?> payload && orderId.equals(payload.get("order_id"));
    }
}
