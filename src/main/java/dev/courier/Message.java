package dev.courier;

import dev.courier.internal.ProteanEnvelope;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A message read from a stream.
 *
 * @param id            the broker's id of the message, the one to {@link Broker#ack ack} or {@link Broker#nack nack}
 * @param stream        the stream it was read from
 * @param payload       the message, a non-empty JSON object (unmodifiable; numbers come back as Integer, Long,
 *                      BigInteger or Double, nested objects as maps, arrays as lists)
 * @param deliveryCount 1 on the first delivery, one more on each redelivery
 * @param traceContext  the W3C trace context the message was published in ({@code traceparent}, and
 *                      {@code tracestate} where there was one), when the publisher traced it; empty otherwise. A
 *                      Protean message carries its own in {@code metadata.headers.traceparent} (see {@link #event()})
 */
public record Message(String id, String stream, Map<String, Object> payload, int deliveryCount,
                      Map<String, String> traceContext) {

    public Message {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(payload, "payload");
        traceContext = traceContext == null || traceContext.isEmpty() ? Map.of() : Map.copyOf(traceContext);
    }

    /** A message published without a trace context. */
    public Message(String id, String stream, Map<String, Object> payload, int deliveryCount) {
        this(id, stream, payload, deliveryCount, Map.of());
    }

    /**
     * The message's type. For a Protean message (see {@link #event()}) it is {@code metadata.headers.type};
     * otherwise the payload's {@code event_type} field, else its {@code type} field, else {@code null}.
     */
    public String type() {
        String envelopeType = ProteanEnvelope.type(payload);
        if (envelopeType != null) {
            return envelopeType;
        }
        Object type = payload.get("event_type");
        if (type == null) {
            type = payload.get("type");
        }
        return type == null ? null : type.toString();
    }

    /**
     * The event, when this message is in Protean's envelope: its payload has a {@code data} object and a
     * {@code metadata.headers.type} string. Its {@link DomainEvent#data() data} is the {@code data} map, and its headers
     * (id, time, traceparent, correlation and causation ids) are read from {@code metadata}.
     */
    public Optional<DomainEvent> event() {
        return Optional.ofNullable(ProteanEnvelope.read(payload));
    }
}
