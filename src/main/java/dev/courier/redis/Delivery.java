package dev.courier.redis;

import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.internal.JsonCodec;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.resps.StreamEntry;
import redis.clients.jedis.util.SafeEncoder;

import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Turns the entries read or claimed for a group into messages: the {@code data} field parsed as a JSON object, with
 * the delivery count. An entry that is not a message (data over {@code max-message-size}, not UTF-8, not a JSON
 * object, no data field, or deleted while pending) is dead-lettered instead.
 *
 * <p>The at-least-once rule it keeps: such an entry is never dropped nor acknowledged unread; its dead letter is
 * written first, and if that fails the entry stays pending and comes back.
 */
final class Delivery {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");

    private final String name;
    private final long maxMessageSize;
    private final DeadLetterQueue deadLetters;

    Delivery(String name, long maxMessageSize, DeadLetterQueue deadLetters) {
        this.name = name;
        this.maxMessageSize = maxMessageSize;
        this.deadLetters = deadLetters;
    }

    /** A first delivery from XREADGROUP's reply: the data field parsed, anything odd by the general route. */
    void first(GroupState g, List<Object> entry, List<Message> out) {
        String id = SafeEncoder.encode((byte[]) entry.get(0));
        byte[] raw = entry.get(1) == null ? null : StreamEntries.data(StreamEntries.castList(entry.get(1)));
        if (raw != null) {
            if (raw.length > maxMessageSize) {
                deadLetterTooLarge(g, id, StreamEntries.fields(entry.get(1)), raw.length, 1);
                return;
            }
            String data = StreamEntries.utf8(raw);
            if (data == null) {
                notUtf8(g, id, 1);
                return;
            }
            try {
                Map<String, Object> payload = JsonCodec.parse(data);
                if (!payload.isEmpty()) {
                    out.add(new Message(id, g.stream, payload, 1,
                            TraceFields.read(StreamEntries.castList(entry.get(1)))));
                    return;
                }
            } catch (IllegalArgumentException e) {
                // Not JSON, or past a bound (a number's digits, nesting): no need to decode and parse it again by
                // the general route, which dead-letters the rest.
                LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' is not a message (data is not a "
                        + "JSON object: {3}); dead-lettering it", name, id, g.stream, e.getMessage());
                deadLetters.writeQuietly(g, id, null, 1, DeadLetter.MALFORMED);
                return;
            }
        }
        deliver(g, new StreamEntry(new StreamEntryID(id), StreamEntries.fields(entry.get(1))), 1, out);
    }

    /** Dead-letters an entry whose data is not UTF-8; the letter keeps its bytes (read again, as bytes). */
    void notUtf8(GroupState g, String id, int deliveryCount) {
        LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' is not a message (data is not UTF-8); "
                + "dead-lettering it", name, id, g.stream);
        deadLetters.writeQuietly(g, id, null, deliveryCount, DeadLetter.MALFORMED);
    }

    /** Adds the entry to {@code out} as a message, or dead-letters it as too large or malformed. */
    void deliver(GroupState g, StreamEntry entry, int deliveryCount, List<Message> out) {
        Map<String, String> fields = entry.getFields();
        String data = fields == null ? null : fields.get(RedisBroker.DATA);
        // A character takes 3 bytes at most in UTF-8: only a text that long may be over the limit.
        long size = data == null || data.length() * 3L <= maxMessageSize ? 0
                : data.getBytes(StandardCharsets.UTF_8).length;
        if (size > maxMessageSize) {
            deadLetterTooLarge(g, entry.getID().toString(), fields, size, deliveryCount);
            return;
        }
        Map<String, Object> payload = null;
        if (data != null) {
            try {
                payload = JsonCodec.parse(data);
            } catch (IllegalArgumentException e) {
                payload = null;
            }
        }
        if (payload == null || payload.isEmpty()) {
            LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' is not a message ({3}); "
                    + "dead-lettering it", name, entry.getID(), g.stream,
                    fields == null ? "deleted while pending"
                            : data == null ? "no data field" : "data is not a JSON object");
            deadLetters.writeQuietly(g, entry.getID().toString(), fields, deliveryCount, DeadLetter.MALFORMED);
            return;
        }
        out.add(new Message(entry.getID().toString(), g.stream, payload, deliveryCount,
                TraceFields.read(fields)));
    }

    /** Dead-letters an entry whose data is over max-message-size, without parsing it. */
    private void deadLetterTooLarge(GroupState g, String id, Map<String, String> fields, long size, int deliveryCount) {
        LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' has {3} bytes of data, more than "
                + "max-message-size ({4} bytes); dead-lettering it unparsed", name, id, g.stream, size,
                maxMessageSize);
        deadLetters.writeQuietly(g, id, fields, deliveryCount, DeadLetter.TOO_LARGE);
    }
}
