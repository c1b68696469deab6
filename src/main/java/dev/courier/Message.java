package dev.courier;

import java.util.Map;
import java.util.Objects;

/**
 * A message read from a stream.
 *
 * @param id            the broker's id of the message, the one to {@link Broker#ack ack} or {@link Broker#nack nack}
 * @param stream        the stream it was read from
 * @param payload       the message, a non-empty JSON object (unmodifiable; numbers come back as Integer, Long,
 *                      BigInteger or Double, nested objects as maps, arrays as lists)
 * @param deliveryCount 1 on the first delivery, one more on each redelivery
 */
public record Message(String id, String stream, Map<String, Object> payload, int deliveryCount) {

    public Message {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(payload, "payload");
    }

    /**
     * The message's type: its {@code event_type} field, else its {@code type} field, else {@code null}.
     */
    public String type() {
        Object type = payload.get("event_type");
        if (type == null) {
            type = payload.get("type");
        }
        return type == null ? null : type.toString();
    }
}
