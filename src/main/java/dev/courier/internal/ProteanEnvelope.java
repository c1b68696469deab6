package dev.courier.internal;

import dev.courier.DomainEvent;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Protean's message envelope, {@code {"data": {...}, "metadata": {"headers": {...}, "domain": {...}, ...}}}, read
 * and written. Not API.
 */
public final class ProteanEnvelope {

    /** A W3C traceparent of version 00: {@code 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>}. */
    private static final int TRACEPARENT_LENGTH = 55;
    /** As Python's {@code datetime.isoformat()} writes a UTC time. */
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSSxxx");

    private ProteanEnvelope() {
    }

    /** The headers object of a Protean message, or {@code null} when the payload is not one. */
    private static Map<?, ?> headers(Map<String, ?> payload) {
        if (payload.get("data") instanceof Map<?, ?> && payload.get("metadata") instanceof Map<?, ?> metadata
                && metadata.get("headers") instanceof Map<?, ?> headers && headers.get("type") instanceof String type
                && !type.isBlank()) {
            return headers;
        }
        return null;
    }

    /** The type of a Protean message ({@code metadata.headers.type}), or {@code null} when it is not one. */
    public static String type(Map<String, ?> payload) {
        Map<?, ?> headers = headers(payload);
        return headers == null ? null : (String) headers.get("type");
    }

    /**
     * The stream of a Protean message ({@code metadata.headers.stream}, as {@code interop::order-810a...}: one per
     * aggregate), or {@code null} when it is not one or has none.
     */
    public static String stream(Map<String, ?> payload) {
        Map<?, ?> headers = headers(payload);
        return headers != null && headers.get("stream") instanceof String stream && !stream.isEmpty() ? stream : null;
    }

    /** The fields of a Protean message ({@code data}), or {@code null} when it is not one. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> data(Map<String, ?> payload) {
        return headers(payload) == null ? null : (Map<String, Object>) payload.get("data");
    }

    /** The event a Protean message holds, or {@code null} when it is not one. */
    public static DomainEvent read(Map<String, ?> payload) {
        Map<?, ?> headers = headers(payload);
        if (headers == null) {
            return null;
        }
        Map<?, ?> metadata = (Map<?, ?>) payload.get("metadata");
        Map<?, ?> domain = metadata.get("domain") instanceof Map<?, ?> d ? d : Map.of();
        return new DomainEvent((String) headers.get("type"), data(payload), text(headers.get("id")),
                parseTime(headers.get("time")), traceparent(headers.get("traceparent")),
                text(domain.get("correlation_id"), headers.get("correlation_id")),
                text(domain.get("causation_id"), headers.get("causation_id")));
    }

    /**
     * The envelope an event is published in: what Protean's {@code Message.deserialize} reads. The checksum is left
     * null, so Protean does not check it; the kind is {@code EVENT}.
     *
     * @param data the event's fields, already checked
     */
    public static Map<String, Object> write(DomainEvent event, Map<String, Object> data) {
        Map<String, Object> headers = new LinkedHashMap<>();
        headers.put("id", event.id());
        headers.put("time", event.time() == null ? null : isoTime(event.time()));
        headers.put("type", event.type());
        headers.put("stream", null);
        headers.put("traceparent", traceparentObject(event.traceparent()));
        headers.put("idempotency_key", null);
        Map<String, Object> envelope = new LinkedHashMap<>();
        envelope.put("specversion", "1.0");
        envelope.put("checksum", null);
        Map<String, Object> domain = new LinkedHashMap<>();
        domain.put("kind", "EVENT");
        domain.put("correlation_id", event.correlationId());
        domain.put("causation_id", event.causationId());
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("headers", headers);
        metadata.put("envelope", envelope);
        metadata.put("domain", domain);
        metadata.put("event_store", null);
        metadata.put("extensions", Map.of());
        Map<String, Object> message = new LinkedHashMap<>();
        message.put("data", data);
        message.put("metadata", metadata);
        return message;
    }

    /** The W3C traceparent of a Protean message ({@code metadata.headers.traceparent}), or {@code null}. */
    public static String traceparent(Map<String, ?> payload) {
        Map<?, ?> headers = headers(payload);
        return headers == null ? null : traceparent(headers.get("traceparent"));
    }

    /** Whether the text is a W3C traceparent Courier can carry (version 00, lower-case hex). */
    public static boolean isTraceparent(String text) {
        // By hand, not by a regular expression: a traced consumer checks every entry's field (a match cost
        // about a sixth of a traced no-op handling).
        if (text == null || text.length() != TRACEPARENT_LENGTH || text.charAt(0) != '0' || text.charAt(1) != '0'
                || text.charAt(2) != '-' || text.charAt(35) != '-' || text.charAt(52) != '-') {
            return false;
        }
        return isLowerHex(text, 3, 35) && isLowerHex(text, 36, 52) && isLowerHex(text, 53, 55);
    }

    private static boolean isLowerHex(String text, int from, int to) {
        for (int i = from; i < to; i++) {
            char c = text.charAt(i);
            if ((c < '0' || c > '9') && (c < 'a' || c > 'f')) {
                return false;
            }
        }
        return true;
    }

    /** Protean writes {@code {"trace_id", "parent_id", "sampled"}}; a W3C string is taken too. */
    private static String traceparent(Object value) {
        if (value instanceof String text) {
            return isTraceparent(text) ? text : null;
        }
        if (value instanceof Map<?, ?> map && map.get("trace_id") instanceof String trace
                && map.get("parent_id") instanceof String parent) {
            String w3c = "00-" + trace + "-" + parent + "-" + (Boolean.TRUE.equals(map.get("sampled")) ? "01" : "00");
            return isTraceparent(w3c) ? w3c : null;
        }
        return null;
    }

    private static Map<String, Object> traceparentObject(String w3c) {
        if (w3c == null) {
            return null;
        }
        String[] parts = w3c.split("-");
        Map<String, Object> object = new LinkedHashMap<>();
        object.put("trace_id", parts[1]);
        object.put("parent_id", parts[2]);
        object.put("sampled", (Integer.parseInt(parts[3], 16) & 1) == 1);
        return object;
    }

    /** The time in ISO-8601 as Python's {@code datetime.isoformat()} writes a UTC time. */
    public static String isoTime(Instant time) {
        return TIME.format(time.atOffset(ZoneOffset.UTC));
    }

    /** An ISO-8601 time as Python writes it, with or without an offset (none: UTC); {@code null} if not one. */
    public static Instant parseTime(Object value) {
        if (!(value instanceof String text)) {
            return null;
        }
        try {
            return OffsetDateTime.parse(text).toInstant();
        } catch (DateTimeParseException e) {
            try {
                return LocalDateTime.parse(text).toInstant(ZoneOffset.UTC);
            } catch (DateTimeParseException again) {
                return null;
            }
        }
    }

    private static String text(Object... values) {
        for (Object value : values) {
            if (value instanceof String s && !s.isEmpty()) {
                return s;
            }
        }
        return null;
    }
}
