package dev.courier.redis;

import dev.courier.BrokerException;
import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.internal.ProteanEnvelope;
import dev.courier.internal.JsonCodec;
import dev.courier.spi.RetryPolicy;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.resps.StreamEntry;
import redis.clients.jedis.util.SafeEncoder;

import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The dead letters of a stream, in {@code <stream>:dlq} as Protean writes them: one field, {@code data}, the
 * original message's JSON with {@code _dlq_metadata} added; read back in that form and in Courier 0.1.0's; replayed,
 * purged and counted.
 *
 * <p>The at-least-once rule it keeps: an entry is written to the dead letters and acknowledged in one script where
 * the stream and its dead letters share a slot (one node, Sentinel, a cluster stream named with a hash tag); else
 * it is written first and acknowledged only then, so a failed write leaves it pending, to come back after
 * {@code message-timeout} (a crash between may write the letter twice). A replay publishes the message again first
 * and deletes the letter only then, so a crash between gives a duplicate, never a loss.
 */
final class DeadLetterQueue {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");

    /*
     * A dead letter is one field, data: the original message's JSON with the object _dlq_metadata added as its last
     * key, as Protean writes it. A malformed entry's letter is {"_dlq_metadata": {...}} alone, with the entry's
     * fields, base64-encoded, under original_fields_base64. Courier 0.1.0 wrote the same metadata names as fields of
     * their own beside data (reason for failure_reason, fields for an entry without data); those are read still.
     */
    private static final String DLQ_METADATA = "_dlq_metadata";
    private static final String ORIGINAL_STREAM = "original_stream";
    private static final String ORIGINAL_ID = "original_id";
    private static final String CONSUMER_GROUP = "consumer_group";
    private static final String CONSUMER = "consumer";
    private static final String FAILED_AT = "failed_at";
    private static final String RETRY_COUNT = "retry_count";
    private static final String FAILURE_REASON = "failure_reason";
    /** A malformed entry's fields: a list of [name, value] pairs, each base64 (RFC 4648) of the bytes. */
    private static final String ORIGINAL_FIELDS = "original_fields_base64";
    /** Courier 0.1.0: the reason, as a field of the dead letter. */
    private static final String REASON = "reason";
    /** Courier 0.1.0: for an entry without a data field, its fields as a JSON object. */
    private static final String FIELDS = "fields";

    /**
     * KEYS: stream, its dead letters. ARGV: the letter's data, group, entry id. Writes the letter and acknowledges
     * the entry in one step, so that a crash between cannot write the letter twice. Only where both keys share a
     * slot: always on one node or Sentinel, on a cluster when the stream's name has a hash tag ({@code {orders}}).
     */
    private static final RedisConnection.LuaScript MOVE = RedisConnection.LuaScript.of("""
            redis.call('XADD', KEYS[2], '*', 'data', ARGV[1])
            return redis.call('XACK', KEYS[1], ARGV[2], ARGV[3])
            """);

    private final String name;
    private final RedisConnection connection;
    /** False once Redis refused the script (no EVAL in the user's ACL): the two steps are taken instead. */
    private volatile boolean moveByScript = true;
    private final RetryPolicy policy;
    private final String consumer;
    private final Counters counters;

    DeadLetterQueue(String name, RedisConnection connection, RetryPolicy policy, String consumer, Counters counters) {
        this.name = name;
        this.connection = connection;
        this.policy = policy;
        this.consumer = consumer;
        this.counters = counters;
    }

    /** The key of the stream's dead letters. */
    static String key(String stream) {
        return stream + RedisBroker.DLQ_SUFFIX;
    }

    /** {@link #write} by this consumer, on the reading path: a failure is logged, and the entry stays pending. */
    void writeQuietly(GroupState g, String id, Map<String, String> fields, int attempts, String reason) {
        try {
            write(g, id, fields, attempts, reason, consumer);
        } catch (BrokerException e) {
            // Left pending: it comes back after message-timeout, so the dead-lettering is tried again.
            LOG.log(Level.WARNING, "broker ''{0}'': dead-lettering entry {1} of stream ''{2}'' failed, it stays "
                    + "pending: {3}", name, id, g.stream, e.getMessage());
        }
    }

    /**
     * Writes the entry to {@code <stream>:dlq} and acknowledges it, in one script or in that order: a failed write
     * leaves it pending.
     *
     * @param fields the entry's fields, or {@code null} to read them (a deleted entry has none)
     */
    void write(GroupState g, String id, Map<String, String> fields, int attempts, String reason, String holder) {
        StreamEntryID entryId = new StreamEntryID(id);
        if (!policy.deadLetterEnabled()) {
            connection.execute("XACK", j -> j.xack(g.stream, g.group, entryId));
            counters.discarded.increment();
            LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' discarded for group ''{3}'' ({4}); "
                    + "enable-dlq is false", name, id, g.stream, g.group, reason);
            return;
        }
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put(ORIGINAL_STREAM, g.stream);
        metadata.put(ORIGINAL_ID, id);
        metadata.put(CONSUMER_GROUP, g.group);
        metadata.put(CONSUMER, holder == null ? consumer : holder);
        metadata.put(FAILED_AT, ProteanEnvelope.isoTime(Instant.now()));
        metadata.put(RETRY_COUNT, attempts);
        metadata.put(FAILURE_REASON, reason);
        String data = fields == null ? null : fields.get(RedisBroker.DATA);
        // An entry over max-message-size is never parsed, here neither: its metadata is spliced into its text.
        boolean parse = !DeadLetter.TOO_LARGE.equals(reason);
        String json = data == null ? null : withMetadata(data, metadata, parse);
        if (json == null) {
            // No data given, or not a JSON object (perhaps decoded from bytes that are not UTF-8): read the entry
            // as bytes, so that a malformed one is kept exactly.
            List<byte[]> raw = rawEntry(g, entryId);
            String text = raw == null ? null : rawData(raw);
            json = text == null ? null : withMetadata(text, metadata, parse);
            if (json == null) {
                List<Object> pairs = new ArrayList<>();
                Base64.Encoder base64 = Base64.getEncoder();
                for (int i = 0; raw != null && i + 1 < raw.size(); i += 2) {
                    pairs.add(List.of(base64.encodeToString(raw.get(i)), base64.encodeToString(raw.get(i + 1))));
                }
                metadata.put(ORIGINAL_FIELDS, pairs);
                json = JsonCodec.write(Map.of(DLQ_METADATA, metadata));
            }
        }
        if (!moveByScript || !connection.oneSlot(g.stream, key(g.stream)) || !moveByScript(g, id, json)) {
            // In two steps: the letter first, so that a failure between leaves the entry pending, to be
            // dead-lettered again (a duplicate letter, never a lost entry).
            Map<String, String> letter = Map.of(RedisBroker.DATA, json);
            connection.execute("XADD", j -> j.xadd(key(g.stream), StreamEntries.XADD, letter));
            connection.execute("XACK", j -> j.xack(g.stream, g.group, entryId));
        }
        counters.deadLettered.increment();
    }

    /** XADD and XACK in one script; false when Redis does not let this user run scripts. */
    private boolean moveByScript(GroupState g, String id, String json) {
        try {
            connection.eval("XADD + XACK", MOVE, List.of(g.stream, key(g.stream)), List.of(json, g.group, id));
            return true;
        } catch (RedisConnection.RedisReplyException e) {
            if (!e.is("NOPERM") && !e.is("ERR unknown command")) {
                throw e;
            }
            moveByScript = false;
            LOG.log(Level.INFO, "broker ''{0}'': dead letters are written, then acknowledged, in two steps (a "
                    + "crash between may write one twice): {1}", name, e.reply());
            return false;
        }
    }

    /**
     * The message's JSON text with the metadata added as its last key, the original text left as it was (numbers,
     * escapes, key order); {@code null} if the text is not a non-empty JSON object. Unless {@code parse}, the text is
     * only looked at: it is taken for an object if it is {@code {...}} with something between the braces.
     */
    private static String withMetadata(String data, Map<String, Object> metadata, boolean parse) {
        if (parse) {
            try {
                if (JsonCodec.parse(data).isEmpty()) {
                    return null;
                }
            } catch (IllegalArgumentException e) {
                return null;
            }
        } else if (!looksLikeObject(data)) {
            return null;
        }
        int end = data.lastIndexOf('}');
        return data.substring(0, end) + ",\"" + DLQ_METADATA + "\":" + JsonCodec.write(metadata)
                + data.substring(end);
    }

    /** Whether the text is '{', something, '}' (white space around allowed), without parsing it. */
    private static boolean looksLikeObject(String text) {
        int first = 0;
        int last = text.length() - 1;
        while (first <= last && Character.isWhitespace(text.charAt(first))) {
            first++;
        }
        while (last > first && Character.isWhitespace(text.charAt(last))) {
            last--;
        }
        if (first >= last || text.charAt(first) != '{' || text.charAt(last) != '}') {
            return false;
        }
        int inner = last - 1;
        while (inner > first && Character.isWhitespace(text.charAt(inner))) {
            inner--;
        }
        return inner > first;
    }

    /** An entry's fields and values as bytes (XRANGE), or {@code null} when it is gone. */
    private List<byte[]> rawEntry(GroupState g, StreamEntryID entryId) {
        byte[] at = SafeEncoder.encode(entryId.toString());
        List<Object> found = connection.execute("XRANGE", j -> j.xrange(g.streamKey, at, at, 1));
        if (found.isEmpty()) {
            return null;
        }
        List<byte[]> raw = new ArrayList<>();
        for (Object item : StreamEntries.castList(StreamEntries.castList(found.get(0)).get(1))) {
            raw.add((byte[]) item);
        }
        return raw;
    }

    /** The data field of an entry read as bytes, as text; {@code null} when there is none or it is not UTF-8. */
    private static String rawData(List<byte[]> raw) {
        byte[] data = StreamEntries.data(raw);
        return data == null ? null : StreamEntries.utf8(data);
    }

    List<DeadLetter> list(String stream, int limit) {
        List<StreamEntry> entries = connection.execute("XREVRANGE",
                j -> j.xrevrange(key(stream), "+", "-", limit));
        List<DeadLetter> letters = new ArrayList<>(entries.size());
        for (StreamEntry entry : entries) {
            letters.add(toDeadLetter(stream, entry));
        }
        return letters;
    }

    Optional<DeadLetter> find(String stream, String deadLetterId) {
        return entry(stream, deadLetterId).map(entry -> toDeadLetter(stream, entry));
    }

    private Optional<StreamEntry> entry(String stream, String deadLetterId) {
        StreamEntryID id = StreamEntries.parseId(deadLetterId);
        if (id == null) {
            return Optional.empty();
        }
        List<StreamEntry> found = connection.execute("XRANGE", j -> j.xrange(key(stream), id, id, 1));
        return found.isEmpty() ? Optional.empty() : Optional.of(found.get(0));
    }

    private DeadLetter toDeadLetter(String stream, StreamEntry entry) {
        return readLetter(stream, entry).letter();
    }

    /** A dead letter as read, and the JSON text its replay publishes ({@code null}: not replayable). */
    private record Letter(DeadLetter letter, String replay) {
    }

    /**
     * Reads a dead letter in any of the three forms: Courier's and Protean's ({@code _dlq_metadata} inside data;
     * absent keys read as Protean reads them), and Courier 0.1.0's (the metadata as fields of their own).
     */
    private Letter readLetter(String stream, StreamEntry entry) {
        Map<String, String> f = entry.getFields() == null ? Map.of() : entry.getFields();
        String data = f.get(RedisBroker.DATA);
        Map<String, Object> parsed = null;
        if (data != null) {
            try {
                parsed = JsonCodec.parse(data);
            } catch (IllegalArgumentException e) {
                parsed = null;
            }
        }
        Map<?, ?> metadata = parsed == null || !parsed.containsKey(DLQ_METADATA) ? null
                : parsed.get(DLQ_METADATA) instanceof Map<?, ?> m ? m : Map.of();
        Map<String, Object> payload;
        List<DeadLetter.EntryField> original;
        String replay;
        if (metadata != null) {
            Map<String, Object> message = new LinkedHashMap<>(parsed);
            message.remove(DLQ_METADATA);
            original = decodeFields(metadata.get(ORIGINAL_FIELDS));
            if (original.isEmpty() && !message.isEmpty()) {
                payload = java.util.Collections.unmodifiableMap(message);
                replay = JsonCodec.write(payload);
            } else {
                payload = Map.of("_raw", rawText(original));
                replay = null;
            }
        } else {
            metadata = f; // 0.1.0, or an entry written by hand
            if (parsed != null && !parsed.isEmpty()) {
                payload = parsed;
                original = List.of();
                replay = data;
            } else {
                // 0.1.0 kept a malformed entry as text: what it kept is given back as UTF-8.
                payload = Map.of("_raw", data != null ? data : f.getOrDefault(FIELDS, ""));
                original = data != null ? List.of(field(RedisBroker.DATA, data)) : fieldsFromJson(f.get(FIELDS));
                replay = null;
            }
        }
        String reason = text(metadata.get(FAILURE_REASON), text(metadata.get(REASON), "unknown"));
        int attempts = count(metadata.get(RETRY_COUNT));
        Message message = new Message(text(metadata.get(ORIGINAL_ID), entry.getID().toString()),
                text(metadata.get(ORIGINAL_STREAM), stream), payload, attempts);
        Instant failedAt = ProteanEnvelope.parseTime(metadata.get(FAILED_AT));
        DeadLetter letter = new DeadLetter(entry.getID().toString(), message,
                text(metadata.get(CONSUMER_GROUP), ""), text(metadata.get(CONSUMER), null), reason, attempts,
                failedAt != null ? failedAt : Instant.ofEpochMilli(entry.getID().getTime()), original);
        return new Letter(letter, letter.replayable() ? replay : null);
    }

    private static String text(Object value, String otherwise) {
        return value instanceof String s && !s.isEmpty() ? s : otherwise;
    }

    /** A retry count as Protean (a number) or 0.1.0 (text) wrote it; 0 when absent. */
    private static int count(Object value) {
        if (value instanceof Number n) {
            return (int) Math.max(0, Math.min(Integer.MAX_VALUE, n.longValue()));
        }
        return value instanceof String s ? Math.max(0, parseInt(s)) : 0;
    }

    private static List<DeadLetter.EntryField> decodeFields(Object value) {
        if (!(value instanceof List<?> pairs)) {
            return List.of();
        }
        List<DeadLetter.EntryField> fields = new ArrayList<>(pairs.size());
        Base64.Decoder base64 = Base64.getDecoder();
        for (Object pair : pairs) {
            if (pair instanceof List<?> p && p.size() == 2 && p.get(0) instanceof String name
                    && p.get(1) instanceof String value1) {
                try {
                    fields.add(new DeadLetter.EntryField(base64.decode(name), base64.decode(value1)));
                } catch (IllegalArgumentException e) {
                    // not base64: not written by Courier; left out
                }
            }
        }
        return fields;
    }

    private static DeadLetter.EntryField field(String name, String value) {
        return new DeadLetter.EntryField(name.getBytes(StandardCharsets.UTF_8), value.getBytes(StandardCharsets.UTF_8));
    }

    private static List<DeadLetter.EntryField> fieldsFromJson(String json) {
        if (json == null) {
            return List.of();
        }
        try {
            List<DeadLetter.EntryField> fields = new ArrayList<>();
            JsonCodec.parse(json).forEach((name, value) -> fields.add(field(name, String.valueOf(value))));
            return fields;
        } catch (IllegalArgumentException e) {
            return List.of(field(FIELDS, json));
        }
    }

    /** A malformed entry as text, for display: its data field, else its fields as a JSON object. */
    private static String rawText(List<DeadLetter.EntryField> fields) {
        Map<String, Object> text = new LinkedHashMap<>();
        for (DeadLetter.EntryField field : fields) {
            text.put(new String(field.name(), StandardCharsets.UTF_8),
                    new String(field.value(), StandardCharsets.UTF_8));
        }
        if (text.size() == 1 && text.get(RedisBroker.DATA) != null) {
            return (String) text.get(RedisBroker.DATA);
        }
        return text.isEmpty() ? "" : JsonCodec.write(text);
    }

    boolean replay(String stream, String deadLetterId) {
        Optional<StreamEntry> entry = entry(stream, deadLetterId);
        if (entry.isEmpty()) {
            return false;
        }
        Letter letter = readLetter(stream, entry.get());
        if (letter.replay() == null) {
            throw new IllegalStateException("dead letter " + deadLetterId + " of stream '" + stream + "' is not "
                    + "replayed: it holds a malformed entry (reason " + letter.letter().reason() + "), which would "
                    + "only be dead-lettered again. Its fields are in DeadLetter.originalEntry(), byte for byte; "
                    + "publish a repaired message, then purge the dead letters or XDEL this one");
        }
        republish(stream, entry.get().getID(), letter.replay());
        return true;
    }

    /**
     * Publishes the dead letter's message again (without {@code _dlq_metadata}), then deletes the letter: a crash
     * between gives a duplicate, never a loss.
     */
    private void republish(String stream, StreamEntryID letterId, String json) {
        connection.execute("XADD", j -> j.xadd(stream, StreamEntries.XADD, Map.of(RedisBroker.DATA, json)));
        counters.published.increment();
        connection.execute("XDEL", j -> j.xdel(key(stream), letterId));
    }

    int replayAll(String stream) {
        int replayed = 0;
        String start = "-";
        while (true) {
            String from = start;
            List<StreamEntry> page = connection.execute("XRANGE", j -> j.xrange(key(stream), from, "+", 100));
            if (page.isEmpty()) {
                return replayed;
            }
            for (StreamEntry entry : page) {
                Letter letter = readLetter(stream, entry);
                if (letter.replay() == null) {
                    LOG.log(Level.WARNING, "broker ''{0}'': dead letter {1} of stream ''{2}'' holds a malformed entry "
                            + "({3}); it stays in the dead-letter queue, not replayed", name, entry.getID(), stream,
                            letter.letter().reason());
                    continue;
                }
                republish(stream, entry.getID(), letter.replay());
                replayed++;
            }
            start = "(" + page.get(page.size() - 1).getID();
        }
    }

    int purge(String stream) {
        String key = key(stream);
        long depth = connection.execute("XLEN", j -> j.xlen(key));
        connection.execute("DEL", j -> j.del(key));
        return (int) Math.min(Integer.MAX_VALUE, depth);
    }

    long depth(String stream) {
        return connection.execute("XLEN", j -> j.xlen(key(stream)));
    }

    private static int parseInt(String text) {
        return (int) Math.min(Integer.MAX_VALUE, RedisConnection.parseLong(text));
    }
}
