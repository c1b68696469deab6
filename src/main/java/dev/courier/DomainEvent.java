package dev.courier;

import dev.courier.internal.CurrentMessage;
import dev.courier.internal.ProteanEnvelope;

import java.time.Instant;
import java.util.UUID;

/**
 * A domain event in the envelope Protean services publish and read:
 * {@code {"data": {...fields...}, "metadata": {"headers": {"id", "time", "type", "traceparent", ...}, "domain":
 * {"kind": "EVENT", "correlation_id", "causation_id"}, ...}}}. Publishing one is optional: any JSON object can be
 * published as it is.
 *
 * <pre>{@code
 * // Publishing: give the type and the data; Courier fills in the rest.
 * broker.publish("orders", DomainEvent.of("Shop.OrderPlaced.v1", new OrderPlaced("810a", "sku-1")));
 *
 * // Consuming: a Protean message is routed by its type and a record parameter binds from its data.
 * void onOrder(@Subscribe(stream = "orders", type = "Shop.OrderPlaced.v1") OrderPlaced order) { }
 * void audit(@Subscribe(stream = "orders") Message message) {
 *     message.event().ifPresent(event -> log(event.id(), event.correlationId()));
 * }
 * }</pre>
 *
 * <p>{@link #of} fills in a new id (a UUID) and the time. Inside a {@code @Subscribe} method, that is while Courier
 * handles a message on the current thread, it also links the event to that message: the causation id is the
 * handled event's id (the broker's message id for a plain message), the correlation id is the handled event's
 * correlation id (else that same id), and the handled event's {@code traceparent} is carried on unchanged (same
 * trace and parent; Courier makes no spans). Outside a handler the correlation id is the event's own id and there is
 * no causation id or traceparent, unless given with {@link #withTraceparent}.
 *
 * @param type          the event's type, such as {@code Shop.OrderPlaced.v1} ({@code metadata.headers.type})
 * @param data          the event's fields: on a received event a {@code Map<String, Object>}; on one to publish, any
 *                      non-empty JSON object (a map, a JSON text, or an object JSON-B can serialise)
 * @param id            the event's id ({@code metadata.headers.id}), or {@code null} when a received one has none
 * @param time          when it happened ({@code metadata.headers.time}), or {@code null}
 * @param traceparent   the W3C trace context, such as {@code 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01},
 *                      or {@code null}; Protean holds it as {@code {"trace_id", "parent_id", "sampled"}}
 * @param correlationId the id shared by a whole causal chain ({@code metadata.domain.correlation_id}), or {@code null}
 * @param causationId   the id of the message that caused this one ({@code metadata.domain.causation_id}), or
 *                      {@code null}
 */
public record DomainEvent(String type, Object data, String id, Instant time, String traceparent,
                          String correlationId, String causationId) {

    public DomainEvent {
        if (type == null || type.isBlank()) {
            throw new IllegalArgumentException("an event's type must not be " + (type == null ? "null" : "blank"));
        }
        if (data == null) {
            throw new IllegalArgumentException("the data of event '" + type + "' must not be null; give a JSON object");
        }
        if (traceparent != null && !ProteanEnvelope.isTraceparent(traceparent)) {
            throw new IllegalArgumentException("'" + traceparent + "' is not a W3C traceparent such as "
                    + "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        }
    }

    /**
     * A new event of this type with these fields, a new id and the current time, linked to the message being
     * handled on this thread, if any (see the class description).
     */
    public static DomainEvent of(String type, Object data) {
        String id = UUID.randomUUID().toString();
        Message handled = CurrentMessage.get();
        if (handled == null) {
            return new DomainEvent(type, data, id, Instant.now(), null, id, null);
        }
        DomainEvent cause = handled.event().orElse(null);
        String causation = cause != null && cause.id() != null ? cause.id() : handled.id();
        String correlation = cause != null && cause.correlationId() != null ? cause.correlationId() : causation;
        return new DomainEvent(type, data, id, Instant.now(), cause == null ? null : cause.traceparent(), correlation,
                causation);
    }

    /** This event with the given W3C traceparent (an incoming HTTP request's, say). */
    public DomainEvent withTraceparent(String traceparent) {
        return new DomainEvent(type, data, id, time, traceparent, correlationId, causationId);
    }
}
