package dev.courier;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which payloads are Protean messages, and how their headers are read. */
class DomainEventTest {

    private static Message message(Map<String, Object> payload) {
        return new Message("1-0", "s", payload, 1);
    }

    @Test
    void only_a_data_object_with_a_string_headers_type_is_a_protean_message() {
        Map<String, Object> headers = Map.of("type", "Shop.OrderPlaced.v1");
        assertEquals("Shop.OrderPlaced.v1",
                message(Map.of("data", Map.of("a", 1), "metadata", Map.of("headers", headers), "type", "x")).type(),
                "the envelope's type wins over a top-level one");
        assertEquals("x", message(Map.of("data", "text", "metadata", Map.of("headers", headers), "type", "x"))
                .type(), "data is not an object: the plain rule");
        assertEquals("x", message(Map.of("data", Map.of(), "metadata", Map.of("headers", Map.of("type", 7)),
                "type", "x")).type(), "a type that is not a string: the plain rule");
        assertEquals("x", message(Map.of("data", Map.of(), "metadata", Map.of("headers", Map.of("type", " ")),
                "event_type", "x")).type(), "a blank type: the plain rule");
        assertTrue(message(Map.of("event_type", "x")).event().isEmpty());
        assertEquals("y", message(Map.of("event_type", "y", "type", "x")).type());
    }

    @Test
    void headers_are_read_whatever_form_they_take() {
        DomainEvent event = message(Map.of("data", Map.of("a", 1), "metadata", Map.of("headers", Map.of(
                "type", "T.v1", "id", "e-1", "time", "2026-12-01T09:52:32.626327",
                "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")))).event().orElseThrow();
        assertEquals(Instant.parse("2026-12-01T09:52:32.626327Z"), event.time(), "no offset: UTC, as Protean means");
        assertEquals("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", event.traceparent());
        assertNull(event.correlationId());

        DomainEvent odd = message(Map.of("data", Map.of(), "metadata", Map.of("headers", Map.of("type", "T.v1",
                "time", "yesterday", "traceparent", Map.of("trace_id", "short", "parent_id", "x"))))).event()
                .orElseThrow();
        assertNull(odd.time());
        assertNull(odd.traceparent(), "not a valid trace context: left out");
        assertNull(odd.id());
    }
}
