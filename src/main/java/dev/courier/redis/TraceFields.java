package dev.courier.redis;

import dev.courier.internal.ProteanEnvelope;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The W3C trace context of a traced publish, as stream fields after {@code data}
 * ({@code XADD <stream> * data <json> traceparent <w3c> [tracestate <w3c>]}): a Protean consumer reads
 * {@code data} and ignores the rest. Read back only when well formed.
 */
final class TraceFields {

    static final String TRACEPARENT = "traceparent";
    static final String TRACESTATE = "tracestate";
    private static final byte[] TRACEPARENT_BYTES = TRACEPARENT.getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TRACESTATE_BYTES = TRACESTATE.getBytes(StandardCharsets.US_ASCII);
    /** The W3C limit on a tracestate header's length. */
    private static final int MAX_TRACESTATE = 512;

    private TraceFields() {
    }

    /** An entry's fields, in order: data, then the trace context where there is one. */
    static Map<byte[], byte[]> entry(byte[] data, String json, Map<String, String> context) {
        byte[] value = json.getBytes(StandardCharsets.UTF_8);
        String traceparent = context.get(TRACEPARENT);
        if (traceparent == null) {
            return Map.of(data, value);
        }
        Map<byte[], byte[]> fields = new LinkedHashMap<>(4);
        fields.put(data, value);
        fields.put(TRACEPARENT_BYTES, traceparent.getBytes(StandardCharsets.US_ASCII));
        String tracestate = context.get(TRACESTATE);
        if (tracestate != null && !tracestate.isEmpty()) {
            fields.put(TRACESTATE_BYTES, tracestate.getBytes(StandardCharsets.US_ASCII));
        }
        return fields;
    }

    /** The trace context of an entry's fields as XREADGROUP gives them (name, value, ...); empty when none. */
    static Map<String, String> read(List<Object> fields) {
        if (fields == null || fields.size() <= 2) {
            return Map.of();
        }
        String traceparent = null;
        String tracestate = null;
        for (int i = 0; i + 1 < fields.size(); i += 2) {
            if (fields.get(i) instanceof byte[] name && fields.get(i + 1) instanceof byte[] value) {
                if (Arrays.equals(name, TRACEPARENT_BYTES)) {
                    traceparent = new String(value, StandardCharsets.US_ASCII);
                } else if (Arrays.equals(name, TRACESTATE_BYTES)) {
                    tracestate = new String(value, StandardCharsets.US_ASCII);
                }
            }
        }
        return context(traceparent, tracestate);
    }

    /** The trace context of an entry's fields by name; empty when none. */
    static Map<String, String> read(Map<String, String> fields) {
        return fields == null || fields.size() < 2 ? Map.of() : context(fields.get(TRACEPARENT), fields.get(TRACESTATE));
    }

    private static Map<String, String> context(String traceparent, String tracestate) {
        if (!ProteanEnvelope.isTraceparent(traceparent)) {
            return Map.of();
        }
        return tracestate == null || tracestate.isEmpty() || tracestate.length() > MAX_TRACESTATE
                ? Map.of(TRACEPARENT, traceparent) : Map.of(TRACEPARENT, traceparent, TRACESTATE, tracestate);
    }
}
