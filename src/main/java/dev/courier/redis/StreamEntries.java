package dev.courier.redis;

import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XAddParams;
import redis.clients.jedis.util.SafeEncoder;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stream entries as the Streams broker writes them and as Redis's binary replies give them back: the {@code data}
 * field, entry ids, fields as bytes. Nothing here talks to Redis.
 */
final class StreamEntries {

    static final byte[] DATA_BYTES = RedisBroker.DATA.getBytes(StandardCharsets.UTF_8);
    /** XADD stream * ...: shared, never changed. */
    static final XAddParams XADD = XAddParams.xAddParams();
    /** The id before every entry; an XAUTOCLAIM cursor of 0-0 begins a scan, and one that comes back ends it. */
    static final String ZERO = "0-0";

    private StreamEntries() {
    }

    /** The id, or {@code null} when it is not a stream entry id. */
    static StreamEntryID parseId(String id) {
        try {
            return new StreamEntryID(id);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The smallest entry id after {@code id}. */
    static String next(StreamEntryID id) {
        return id.getSequence() == -1L ? new StreamEntryID(id.getTime() + 1, 0).toString()
                : new StreamEntryID(id.getTime(), id.getSequence() + 1).toString();
    }

    /** An entry's fields as a binary reply gives them ([name, value, ...]), as text. */
    static Map<String, String> fields(Object raw) {
        if (raw == null) {
            return null; // deleted while pending (Redis 6.2)
        }
        List<Object> list = castList(raw);
        Map<String, String> fields = new LinkedHashMap<>();
        for (int i = 0; i + 1 < list.size(); i += 2) {
            fields.put(SafeEncoder.encode((byte[]) list.get(i)), SafeEncoder.encode((byte[]) list.get(i + 1)));
        }
        return fields;
    }

    @SuppressWarnings("unchecked")
    static List<Object> castList(Object value) {
        return value == null ? List.of() : (List<Object>) value;
    }

    /** The bytes as UTF-8 text, or {@code null} when they are not UTF-8. */
    static String utf8(byte[] bytes) {
        String text = new String(bytes, StandardCharsets.UTF_8);
        if (text.indexOf('\uFFFD') < 0) {
            return text; // the common case, at the cost of a plain decode
        }
        // U+FFFD stands for bytes that are not UTF-8, or is in the text: tell which.
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            return null;
        }
    }

    /** The data field's bytes among an entry's fields ([name, value, ...] as bytes), or {@code null}. */
    static byte[] data(List<?> fields) {
        for (int i = 0; i + 1 < fields.size(); i += 2) {
            if (java.util.Arrays.equals((byte[]) fields.get(i), DATA_BYTES)) {
                return (byte[]) fields.get(i + 1);
            }
        }
        return null;
    }
}
