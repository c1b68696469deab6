package dev.courier.redis;

import dev.courier.BrokerCapability;
import dev.courier.BrokerException;
import dev.courier.DeadLetter;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.PartialPublishException;
import dev.courier.redis.RedisConnection.LuaScript;
import dev.courier.redis.RedisConnection.RedisReplyException;
import dev.courier.internal.ProteanEnvelope;
import dev.courier.spi.AbstractBroker;
import dev.courier.internal.JsonCodec;
import dev.courier.spi.Maintained;
import dev.courier.spi.MaintenancePolicy;
import dev.courier.spi.Retention;
import dev.courier.spi.RetryPolicy;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.Response;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.XAddParams;
import redis.clients.jedis.params.XClaimParams;
import redis.clients.jedis.params.XPendingParams;
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.params.XTrimParams;
import redis.clients.jedis.resps.StreamConsumerInfo;
import redis.clients.jedis.resps.StreamEntry;
import redis.clients.jedis.resps.StreamGroupInfo;
import redis.clients.jedis.resps.StreamPendingEntry;
import redis.clients.jedis.resps.StreamPendingSummary;
import redis.clients.jedis.util.SafeEncoder;

import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Collectors;

/**
 * A broker on Redis Streams, in Protean's wire format: {@code XADD <stream> * data <json>}, consumer
 * groups created on first use, dead letters in the stream {@code <stream>:dlq} as Protean writes them (one field,
 * {@code data}: the original message plus {@code _dlq_metadata}).
 *
 * <p>Delivery state lives in Redis, so it survives restarts of the application and of Redis (with persistence):
 * <ul>
 * <li>a delivered entry stays in the group's pending entries list (PEL) until acknowledged;</li>
 * <li>a rejected entry is moved (XCLAIM JUSTID, keeping its delivery count) to the group's consumer
 * {@value #RETRY_CONSUMER}, and claimed back by a reader once it has been idle for
 * {@code retry-delay * backoff-multiplier^(n-1)}, n being its PEL delivery count;</li>
 * <li>an entry left pending for longer than {@code message-timeout} (its consumer crashed or hangs) is claimed by a
 * live reader with XAUTOCLAIM and delivered again; past {@code max-retries} it is dead-lettered instead;</li>
 * <li>the entries that this consumer name held before this broker was created (the instance stopped or crashed
 * with messages read and not handled, and runs again under its stable name) are delivered again by its first reads
 * of the group, without waiting for {@code message-timeout};</li>
 * <li>dead-lettering writes the entry to {@code <stream>:dlq} first and acknowledges it only then.</li>
 * </ul>
 *
 * <p>{@link #maintain()} removes the dead letters older than {@code dead-letter-retention}, by the time in their
 * entry ids (XTRIM MINID), and, with {@code retention}, the stream entries older than it that every group has
 * acknowledged; both for the streams this broker object has published to or read.
 */
final class RedisBroker extends AbstractBroker implements Maintained {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");

    static final Set<BrokerCapability> CAPABILITIES = EnumSet.of(
            BrokerCapability.PUBLISH, BrokerCapability.SUBSCRIBE, BrokerCapability.CONSUMER_GROUPS,
            BrokerCapability.ACK_NACK, BrokerCapability.DELIVERY_GUARANTEES, BrokerCapability.MESSAGE_ORDERING,
            BrokerCapability.BLOCKING_READ, BrokerCapability.DEAD_LETTER_QUEUE, BrokerCapability.REPLAY);

    /** The field of a stream entry that holds the message's JSON. */
    static final String DATA = "data";
    private static final byte[] DATA_BYTES = DATA.getBytes(StandardCharsets.UTF_8);
    private static final byte[] UNDELIVERED = SafeEncoder.encode(">");
    static final String DLQ_SUFFIX = ":dlq";
    /** The consumer that holds rejected entries while they wait for their retry. */
    static final String RETRY_CONSUMER = "courier-retry";

    /*
     * A dead letter is one field, data: the original message's JSON with the object _dlq_metadata added as its last
     * key, as Protean writes it. A malformed entry's letter is {"_dlq_metadata": {...}} alone, with the entry's
     * fields, base64-encoded, under original_fields_base64. Courier 0.1.0 wrote the same metadata names as fields of
     * their own beside data (reason for failure_reason, fields for an entry without data); those are read still.
     */
    static final String DLQ_METADATA = "_dlq_metadata";
    static final String ORIGINAL_STREAM = "original_stream";
    static final String ORIGINAL_ID = "original_id";
    static final String CONSUMER_GROUP = "consumer_group";
    static final String CONSUMER = "consumer";
    static final String FAILED_AT = "failed_at";
    static final String RETRY_COUNT = "retry_count";
    static final String FAILURE_REASON = "failure_reason";
    /** A malformed entry's fields: a list of [name, value] pairs, each base64 (RFC 4648) of the bytes. */
    static final String ORIGINAL_FIELDS = "original_fields_base64";
    /** Courier 0.1.0: the reason, as a field of the dead letter. */
    static final String REASON = "reason";
    /** Courier 0.1.0: for an entry without a data field, its fields as a JSON object. */
    static final String FIELDS = "fields";

    /** XADD stream * ...: shared, never changed. */
    private static final XAddParams XADD = XAddParams.xAddParams();
    /** How many retry entries one look at the retry consumer's PEL considers. */
    private static final int RETRY_SCAN = 100;
    /** How often a reader looks for retries rejected by other instances. */
    private static final long RETRY_POLL_MS = 1000;
    private static final long MIN_RECLAIM_INTERVAL_MS = 100;
    private static final long MAX_RECLAIM_INTERVAL_MS = 30_000;
    private static final String ZERO = "0-0";

    /**
     * Removes a consumer only if it holds no pending entry and has been idle long enough, atomically, so that an
     * entry it reads meanwhile is never dropped with it.
     */
    private static final LuaScript DELETE_IDLE_CONSUMER = LuaScript.of("""
            pcall(redis.replicate_commands)
            local consumers = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
            for _, c in ipairs(consumers) do
              local fields = {}
              for i = 1, #c, 2 do fields[c[i]] = c[i + 1] end
              if fields['name'] == ARGV[2] then
                if fields['pending'] == 0 and fields['idle'] >= tonumber(ARGV[3]) then
                  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
                end
                return -1
              end
            end
            return -1
            """);

    private final RedisConnection connection;
    private final XaddCombiner combiner;
    private final RetryPolicy policy;
    private final String consumer;
    private final byte[] consumerKey;
    private final long maxLength;
    private final Duration retention;
    private final MaintenancePolicy maintenance;
    private final Duration blockTimeout;
    private final long reclaimIntervalMs;
    private final Map<String, Map<String, GroupState>> groups = new ConcurrentHashMap<>();
    private final Set<String> streams = ConcurrentHashMap.newKeySet();
    private final Map<String, AtomicLong> publishedSinceTrim = new ConcurrentHashMap<>();
    private final LongAdder published = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder deadLettered = new LongAdder();
    private final LongAdder discarded = new LongAdder();
    private volatile boolean reclaimSupported = true;
    private volatile boolean consumerCleanupSupported = true;
    /** Entries of this consumer name idle since before this are left over from an earlier run of the instance. */
    private final long createdAt = System.currentTimeMillis();

    RedisBroker(String name, RedisConnection connection, RetryPolicy policy, String consumer, long maxLength,
                Duration blockTimeout) {
        this(name, connection, policy, consumer, new Retention(maxLength, Duration.ZERO), MaintenancePolicy.DEFAULT,
                blockTimeout, RedisBrokerProvider.DEFAULT_MAX_MESSAGE_SIZE);
    }

    RedisBroker(String name, RedisConnection connection, RetryPolicy policy, String consumer, Retention retention,
                MaintenancePolicy maintenance, Duration blockTimeout, long maxMessageSize) {
        super(name, RedisBrokerProvider.NAME, CAPABILITIES, maxMessageSize);
        this.connection = connection;
        this.combiner = new XaddCombiner(connection);
        this.policy = policy;
        this.consumer = consumer;
        this.consumerKey = SafeEncoder.encode(consumer);
        this.maxLength = retention.maxLength();
        this.retention = retention.maxAge();
        this.maintenance = maintenance;
        this.blockTimeout = blockTimeout;
        this.reclaimIntervalMs = Math.max(MIN_RECLAIM_INTERVAL_MS,
                Math.min(MAX_RECLAIM_INTERVAL_MS, policy.messageTimeout().toMillis() / 2));
    }

    String consumer() {
        return consumer;
    }

    RetryPolicy policy() {
        return policy;
    }

    @Override
    protected RetryPolicy retryPolicy() {
        return policy;
    }

    RedisConnection connection() {
        return connection;
    }

    // Publishing

    /** Messages arrive as JSON text, made in one pass: the stream entry holds nothing else. */
    @Override
    protected boolean sendsJson() {
        return true;
    }

    @Override
    protected String doPublish(String stream, Map<String, Object> payload) {
        return doPublishJson(stream, JsonCodec.write(payload));
    }

    /** Concurrent publishes share round trips (see {@link XaddCombiner}); a lone one is a plain XADD. */
    @Override
    protected String doPublishJson(String stream, String json) {
        String id = combiner.xadd(stream, json);
        published.increment();
        afterPublish(stream, 1);
        return id;
    }

    @Override
    protected List<String> doPublishAllJson(String stream, List<String> texts) {
        byte[] key = stream.getBytes(StandardCharsets.UTF_8);
        List<Map<byte[], byte[]>> entries = new ArrayList<>(texts.size());
        for (String json : texts) {
            entries.add(Map.of(DATA_BYTES, json.getBytes(StandardCharsets.UTF_8)));
        }
        // One round trip for the lot, written at most once (RedisConnection.write): after a timeout or a lost
        // connection, the outcome is unknown and the batch is not sent again.
        // Binary XADD: the ids come back as text, without being parsed into StreamEntryIDs and printed again.
        List<Object> replies = connection.write("XADD (pipelined)", c -> {
            try (Pipeline pipeline = new Pipeline(c)) {
                List<Response<byte[]>> responses = new ArrayList<>(entries.size());
                for (Map<byte[], byte[]> entry : entries) {
                    responses.add(pipeline.xadd(key, XADD, entry));
                }
                pipeline.sync();
                List<Object> result = new ArrayList<>(responses.size());
                for (Response<byte[]> response : responses) {
                    try {
                        result.add(new String(response.get(), StandardCharsets.US_ASCII));
                    } catch (JedisDataException refused) {
                        result.add(refused); // OOM, say: this entry was not stored, the others may have been
                    }
                }
                return result;
            }
        });
        Map<Integer, String> stored = new LinkedHashMap<>();
        List<Integer> notStored = new ArrayList<>();
        JedisDataException firstRefusal = null;
        for (int i = 0; i < replies.size(); i++) {
            if (replies.get(i) instanceof JedisDataException refused) {
                notStored.add(i);
                firstRefusal = firstRefusal == null ? refused : firstRefusal;
            } else {
                stored.put(i, (String) replies.get(i));
            }
        }
        published.add(stored.size());
        if (!stored.isEmpty()) {
            afterPublish(stream, stored.size());
        }
        if (firstRefusal != null) {
            BrokerException reason = connection.translate("XADD", firstRefusal);
            throw new PartialPublishException("broker '" + name() + "': publishAll to stream '" + stream + "': "
                    + stored.size() + " of " + replies.size() + " messages stored, " + notStored.size()
                    + " refused (indexes " + indexes(notStored) + "): " + reason.getMessage(),
                    stored, notStored, reason);
        }
        return List.copyOf(stored.values());
    }

    /** Indexes for a message, at most ten of them. */
    private static String indexes(List<Integer> indexes) {
        String shown = indexes.stream().limit(10).map(String::valueOf).collect(Collectors.joining(", "));
        return indexes.size() > 10 ? shown + " ... " + indexes.get(indexes.size() - 1) : shown;
    }

    private void afterPublish(String stream, int count) {
        streams.add(stream);
        if (maxLength <= 0) {
            return;
        }
        // Trim now and then rather than on every XADD: a safe trim costs a few round trips.
        long every = Math.max(1, maxLength / 10);
        AtomicLong since = publishedSinceTrim.computeIfAbsent(stream, s -> new AtomicLong());
        if (since.addAndGet(count) >= every) {
            since.set(0);
            try {
                doTrim(stream, maxLength);
            } catch (BrokerException e) {
                LOG.log(Level.WARNING, "broker ''{0}'': trimming stream ''{1}'' failed: {2}", name(), stream,
                        e.getMessage());
            }
        }
    }

    // Reading

    @Override
    protected List<Message> doRead(String stream, String group, int max) {
        return readGroup(stream, group, max, 0L);
    }

    @Override
    protected List<Message> doRead(String stream, String group, int max, Duration block) {
        return readGroup(stream, group, max, Math.min(block.toMillis(), blockTimeout.toMillis()));
    }

    /** The acks go in the read's round trip (XACK and XREADGROUP pipelined) when the read is a plain XREADGROUP. */
    @Override
    protected List<Message> doAckAndRead(String stream, String group, List<String> ids, int max, Duration block) {
        return readGroup(stream, group, max, block.isZero() ? 0L : Math.min(block.toMillis(), blockTimeout.toMillis()),
                ids);
    }

    private List<Message> readGroup(String stream, String group, int max, long blockMs) {
        return readGroup(stream, group, max, blockMs, List.of());
    }

    private List<Message> readGroup(String stream, String group, int max, long blockMs, List<String> acks) {
        GroupState g = state(stream, group);
        ensureGroup(g);
        List<Message> out = new ArrayList<>(Math.min(max, 16));
        long now = System.currentTimeMillis();
        long failures = connection.failures();
        if (failures != g.seenFailures) {
            // Redis could not be reached: a batch may have been left half done, its acks lost, or a read's reply
            // lost after Redis delivered it (served once Redis got to it, possibly after the client gave up). What
            // this consumer holds now is delivered again now, not after message-timeout: no read of this group
            // succeeded since the failure, so nothing here was delivered by one that did.
            g.seenFailures = failures;
            g.leftoverSince = now;
            g.leftoverCursor = "-";
        }
        if (!acks.isEmpty() && (g.leftoverCursor != null || (reclaimSupported && now >= g.nextReclaimAt)
                || now >= g.nextRetryCheckAt())) {
            // Other commands come first: the acks go on their own, before them.
            doAckAll(stream, acks, group);
            acks = List.of();
        }
        if (g.leftoverCursor != null) {
            leftovers(g, out, max, now);
        }
        if (out.size() < max && reclaimSupported && now >= g.nextReclaimAt) {
            reclaim(g, out, max, now);
        }
        if (out.size() < max && now >= g.nextRetryCheckAt()) {
            retries(g, out, max, now);
        }
        if (out.size() < max) {
            // Block only when there is nothing to give, and not past the next retry that is due.
            long block = out.isEmpty() ? Math.min(blockMs, g.nextRetryCheckAt() - now) : 0;
            readNew(g, out, max - out.size(), block, acks);
        } else if (!acks.isEmpty()) {
            doAckAll(stream, acks, group);
        }
        return out;
    }

    private void readNew(GroupState g, List<Message> out, int count, long blockMs, List<String> acks) {
        XReadGroupParams params = XReadGroupParams.xReadGroupParams().count(count);
        if (blockMs >= 1) {
            params.block((int) Math.min(Integer.MAX_VALUE, blockMs));
        }
        // Binary: the reply is read as it comes, no StreamEntryID parsed and printed again, no field map built.
        Map.Entry<byte[], byte[]> key = Map.entry(g.streamKey, UNDELIVERED);
        List<Object> result;
        try {
            byte[][] ids = acks.isEmpty() ? null : entryIds(acks);
            result = ids == null ? xreadgroup(g, params, key, blockMs >= 1) : xackXreadgroup(g, ids, params, key,
                    blockMs >= 1);
        } catch (RedisReplyException e) {
            if (!e.is("NOGROUP")) {
                throw e;
            }
            // The stream was deleted or Redis restarted empty: create the group again and carry on.
            LOG.log(Level.INFO, "broker ''{0}'': group ''{1}'' of stream ''{2}'' is gone; creating it again",
                    name(), g.group, g.stream);
            g.created = false;
            ensureGroup(g);
            result = xreadgroup(g, params, key, blockMs >= 1);
        }
        if (result == null) {
            return;
        }
        // [[stream, [[id, [field, value, ...]], ...]]]
        for (Object streamReply : result) {
            for (Object item : castList(castList(streamReply).get(1))) {
                deliverRaw(g, castList(item), out);
            }
        }
    }

    private List<Object> xreadgroup(GroupState g, XReadGroupParams params, Map.Entry<byte[], byte[]> key,
                                    boolean blocking) {
        return blocking
                ? connection.executeBlocking("XREADGROUP", j -> j.xreadGroup(g.groupKey, consumerKey, params, key))
                : connection.execute("XREADGROUP", j -> j.xreadGroup(g.groupKey, consumerKey, params, key));
    }

    /** XACK then XREADGROUP in one round trip; Redis runs the XACK before the read may block. */
    private List<Object> xackXreadgroup(GroupState g, byte[][] ids, XReadGroupParams params,
                                        Map.Entry<byte[], byte[]> key, boolean blocking) {
        java.util.function.Function<redis.clients.jedis.UnifiedJedis, List<Object>> both = j -> {
            try (AbstractPipeline pipeline = j.pipelined()) {
                Response<Long> acked = pipeline.xack(g.streamKey, g.groupKey, ids);
                Response<List<Object>> read = pipeline.xreadGroup(g.groupKey, consumerKey, params, key);
                pipeline.sync();
                acked.get();
                return read.get();
            }
        };
        return blocking ? connection.executeBlocking("XACK + XREADGROUP", both)
                : connection.execute("XACK + XREADGROUP", both);
    }

    /** The ids that are stream entry ids, as bytes; {@code null} when none is. */
    private static byte[][] entryIds(List<String> ids) {
        List<byte[]> entryIds = new ArrayList<>(ids.size());
        for (String id : ids) {
            // One malformed id would fail the whole command: it cannot be pending anyway.
            if (isEntryId(id)) {
                entryIds.add(id.getBytes(StandardCharsets.US_ASCII));
            }
        }
        return entryIds.isEmpty() ? null : entryIds.toArray(new byte[0][]);
    }

    /** A first delivery from XREADGROUP's reply: the data field parsed, anything odd by the general route. */
    private void deliverRaw(GroupState g, List<Object> entry, List<Message> out) {
        String id = SafeEncoder.encode((byte[]) entry.get(0));
        List<Object> fields = entry.get(1) == null ? null : castList(entry.get(1));
        if (fields != null) {
            for (int i = 0; i + 1 < fields.size(); i += 2) {
                if (java.util.Arrays.equals((byte[]) fields.get(i), DATA_BYTES)) {
                    byte[] raw = (byte[]) fields.get(i + 1);
                    if (raw.length > maxMessageSize()) {
                        deadLetterTooLarge(g, id, fields(entry.get(1)), raw.length, 1);
                        return;
                    }
                    String data = utf8(raw);
                    if (data == null) {
                        notUtf8(g, id, 1);
                        return;
                    }
                    try {
                        Map<String, Object> payload = JsonCodec.parse(data);
                        if (!payload.isEmpty()) {
                            out.add(new Message(id, g.stream, payload, 1));
                            return;
                        }
                    } catch (IllegalArgumentException e) {
                        // Not JSON, or past a bound (a number's digits, nesting): no need to decode and parse it
                        // again by the general route, which dead-letters the rest.
                        LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' is not a message (data is "
                                + "not a JSON object: {3}); dead-lettering it", name(), id, g.stream, e.getMessage());
                        deadLetterQuietly(g, id, null, 1, DeadLetter.MALFORMED);
                        return;
                    }
                    break;
                }
            }
        }
        deliver(g, new StreamEntry(new StreamEntryID(id), fields(entry.get(1))), 1, out);
    }

    /** Dead-letters an entry whose data is not UTF-8; the letter keeps its bytes (read again, as bytes). */
    private void notUtf8(GroupState g, String id, int deliveryCount) {
        LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' is not a message (data is not UTF-8); "
                + "dead-lettering it", name(), id, g.stream);
        deadLetterQuietly(g, id, null, deliveryCount, DeadLetter.MALFORMED);
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

    /** Whether an entry's fields, as XAUTOCLAIM gives them, hold a data field that is not UTF-8. */
    private static boolean dataNotUtf8(Object raw) {
        List<Object> list = castList(raw);
        for (int i = 0; i + 1 < list.size(); i += 2) {
            if (java.util.Arrays.equals((byte[]) list.get(i), DATA_BYTES)) {
                return utf8((byte[]) list.get(i + 1)) == null;
            }
        }
        return false;
    }

    /** Adds the entry to {@code out} as a message, or dead-letters it as too large or malformed. */
    private void deliver(GroupState g, StreamEntry entry, int deliveryCount, List<Message> out) {
        Map<String, String> fields = entry.getFields();
        String data = fields == null ? null : fields.get(DATA);
        // A character takes 3 bytes at most in UTF-8: only a text that long may be over the limit.
        long size = data == null || data.length() * 3L <= maxMessageSize() ? 0
                : data.getBytes(StandardCharsets.UTF_8).length;
        if (size > maxMessageSize()) {
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
                    + "dead-lettering it", name(), entry.getID(), g.stream,
                    fields == null ? "deleted while pending" : data == null ? "no data field" : "data is not a JSON object");
            deadLetterQuietly(g, entry.getID().toString(), fields, deliveryCount, DeadLetter.MALFORMED);
            return;
        }
        out.add(new Message(entry.getID().toString(), g.stream, payload, deliveryCount));
    }

    /** Dead-letters an entry whose data is over max-message-size, without parsing it. */
    private void deadLetterTooLarge(GroupState g, String id, Map<String, String> fields, long size, int deliveryCount) {
        LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' has {3} bytes of data, more than "
                + "max-message-size ({4} bytes); dead-lettering it unparsed", name(), id, g.stream, size,
                maxMessageSize());
        deadLetterQuietly(g, id, fields, deliveryCount, DeadLetter.TOO_LARGE);
    }

    /** Claims the group's rejected entries whose retry delay has passed. */
    private void retries(GroupState g, List<Message> out, int max, long now) {
        List<StreamPendingEntry> pending;
        try {
            pending = connection.execute("XPENDING", j -> j.xpending(g.stream, g.group,
                    XPendingParams.xPendingParams("-", "+", RETRY_SCAN).consumer(RETRY_CONSUMER)));
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP")) {
                return; // readNew recreates it
            }
            throw e;
        }
        long seen = g.nextRetryCheckAt();
        long next = now + RETRY_POLL_MS;
        List<StreamEntryID> due = new ArrayList<>();
        Map<StreamEntryID, Long> counts = new HashMap<>();
        long minIdle = Long.MAX_VALUE;
        for (StreamPendingEntry p : pending) {
            long delay = policy.delayBeforeRetry((int) Math.min(Integer.MAX_VALUE, p.getDeliveredTimes())).toMillis();
            if (p.getIdleTime() < delay) {
                next = Math.min(next, now + delay - p.getIdleTime());
            } else if (out.size() + due.size() < max) {
                due.add(p.getID());
                counts.put(p.getID(), p.getDeliveredTimes());
                minIdle = Math.min(minIdle, delay);
            } else {
                next = now; // due, but no room in this batch
            }
        }
        g.retryCheckedUntil(seen, next);
        if (due.isEmpty()) {
            return;
        }
        long idle = minIdle;
        // min-idle makes the claim fail for an entry another reader has just claimed.
        List<StreamEntry> claimed = connection.execute("XCLAIM", j -> j.xclaim(g.stream, g.group, consumer, idle,
                XClaimParams.xClaimParams(), due.toArray(new StreamEntryID[0])));
        for (StreamEntry entry : claimed) {
            if (entry == null) {
                continue;
            }
            Long count = counts.get(entry.getID());
            deliver(g, entry, count == null ? 1 : (int) Math.min(Integer.MAX_VALUE, count + 1), out);
        }
    }

    /**
     * Delivers again the entries that this consumer name held before this broker was created, or before Redis last
     * could not be reached: read by an earlier run of this instance, or by this one before the failure, and never
     * acknowledged (it stopped with a batch half done, crashed, or lost its acks to the outage). Without this they would
     * wait for {@code message-timeout} (300 s by default), since XREADGROUP {@code >} gives only new entries. The
     * consumer's pending entries are looked at in id order, a batch per read, until the end; one counts as left over
     * if it has been idle since before this broker was created, so that what this broker delivers itself meanwhile is
     * never taken from its reader, and XCLAIM's min-idle keeps it so on the server. Past {@code max-retries}
     * deliveries a left-over entry is dead-lettered, as a reclaimed one is.
     */
    private void leftovers(GroupState g, List<Message> out, int max, long now) {
        String from = g.leftoverCursor;
        int count = max - out.size();
        List<StreamPendingEntry> pending;
        try {
            pending = connection.execute("XPENDING", j -> j.xpending(g.stream, g.group,
                    XPendingParams.xPendingParams(from, "+", count).consumer(consumer)));
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP")) {
                return; // readNew creates it again, empty
            }
            throw e;
        }
        long sinceCreated = Math.max(0, now - g.leftoverSince);
        List<StreamEntryID> left = new ArrayList<>();
        Map<StreamEntryID, Long> counts = new HashMap<>();
        for (StreamPendingEntry p : pending) {
            if (p.getIdleTime() >= sinceCreated) {
                left.add(p.getID());
                counts.put(p.getID(), p.getDeliveredTimes() + 1); // XCLAIM counts this delivery
            }
        }
        g.leftoverCursor = pending.size() < count ? null : next(pending.get(pending.size() - 1).getID());
        if (left.isEmpty()) {
            return;
        }
        List<StreamEntry> claimed = connection.execute("XCLAIM", j -> j.xclaim(g.stream, g.group, consumer,
                sinceCreated, XClaimParams.xClaimParams(), left.toArray(new StreamEntryID[0])));
        int redelivered = 0;
        for (StreamEntry entry : claimed) {
            if (entry == null) {
                continue; // deleted while pending (Redis 6.2 and earlier)
            }
            int deliveries = (int) Math.min(Integer.MAX_VALUE, counts.getOrDefault(entry.getID(), 1L));
            if (policy.exhausted(deliveries - 1)) {
                failed.increment();
                deadLetterQuietly(g, entry.getID().toString(), entry.getFields(), deliveries - 1,
                        DeadLetter.TIMEOUT);
            } else {
                deliver(g, entry, deliveries, out);
                redelivered++;
            }
        }
        if (redelivered > 0) {
            int n = redelivered;
            LOG.log(Level.INFO, () -> "broker '" + name() + "': consumer '" + consumer + "' held " + n
                    + " unacknowledged entries of stream '" + g.stream + "' for group '" + g.group
                    + "' from an earlier run or an interrupted one; delivering them again");
        }
    }

    /** The smallest entry id after {@code id}. */
    private static String next(StreamEntryID id) {
        return id.getSequence() == -1L ? new StreamEntryID(id.getTime() + 1, 0).toString()
                : new StreamEntryID(id.getTime(), id.getSequence() + 1).toString();
    }

    /**
     * Claims entries held longer than {@code message-timeout} (their consumer crashed or hangs) with XAUTOCLAIM,
     * carrying the cursor from read to read until a scan of the PEL is complete.
     */
    private void reclaim(GroupState g, List<Message> out, int max, long now) {
        String cursor = g.reclaimCursor;
        int count = max - out.size();
        List<Object> reply;
        try {
            reply = connection.execute("XAUTOCLAIM", j -> castList(j.sendCommand(Protocol.Command.XAUTOCLAIM,
                    g.stream, g.group, consumer, Long.toString(policy.messageTimeout().toMillis()), cursor,
                    "COUNT", Integer.toString(count))));
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP")) {
                return;
            }
            if (e.is("ERR unknown command") || e.is("ERR Unknown") || e.is("ERR syntax")) {
                reclaimSupported = false;
                LOG.log(Level.WARNING, "broker ''{0}'': Redis at {1} has no XAUTOCLAIM (Redis 6.2+): entries of "
                        + "crashed consumers are not reclaimed", name(), connection.describe());
                return;
            }
            throw e;
        }
        String nextCursor = SafeEncoder.encode((byte[]) reply.get(0));
        boolean complete = ZERO.equals(nextCursor);
        g.reclaimCursor = complete ? ZERO : nextCursor;
        g.nextReclaimAt = complete ? now + reclaimIntervalMs : now;

        List<Object> entries = castList(reply.get(1));
        if (!entries.isEmpty()) {
            List<StreamEntry> claimed = new ArrayList<>(entries.size());
            for (Object item : entries) {
                if (item == null) {
                    continue;
                }
                List<Object> pair = castList(item);
                StreamEntryID id = new StreamEntryID(SafeEncoder.encode((byte[]) pair.get(0)));
                if (dataNotUtf8(pair.get(1))) {
                    notUtf8(g, id.toString(), 0);
                    continue;
                }
                claimed.add(new StreamEntry(id, fields(pair.get(1))));
            }
            Map<StreamEntryID, Long> counts = deliveryCounts(g, claimed);
            for (StreamEntry entry : claimed) {
                int deliveries = (int) Math.min(Integer.MAX_VALUE, counts.getOrDefault(entry.getID(), 1L));
                if (policy.exhausted(deliveries - 1)) {
                    // Delivered and never acknowledged more often than max-retries allows.
                    failed.increment();
                    deadLetterQuietly(g, entry.getID().toString(), entry.getFields(), deliveries - 1,
                            DeadLetter.TIMEOUT);
                } else {
                    deliver(g, entry, deliveries, out);
                }
            }
        }
        if (reply.size() > 2 && reply.get(2) != null) {
            // Redis 7: entries deleted (trimmed) while pending, already removed from the PEL.
            for (Object deleted : castList(reply.get(2))) {
                String id = SafeEncoder.encode((byte[]) deleted);
                LOG.log(Level.WARNING, "broker ''{0}'': pending entry {1} of stream ''{2}'' was deleted before it "
                        + "was acknowledged; dead-lettering what is known of it", name(), id, g.stream);
                deadLetterQuietly(g, id, null, 0, DeadLetter.MALFORMED);
            }
        }
        if (complete && consumerCleanupSupported) {
            removeIdleConsumers(g);
        }
    }

    private Map<StreamEntryID, Long> deliveryCounts(GroupState g, List<StreamEntry> claimed) {
        if (claimed.isEmpty()) {
            return Map.of();
        }
        StreamEntryID first = claimed.get(0).getID();
        StreamEntryID last = claimed.get(claimed.size() - 1).getID();
        List<StreamPendingEntry> pending = connection.execute("XPENDING", j -> j.xpending(g.stream, g.group,
                XPendingParams.xPendingParams(first, last, claimed.size()).consumer(consumer)));
        Map<StreamEntryID, Long> counts = new HashMap<>();
        for (StreamPendingEntry p : pending) {
            counts.put(p.getID(), p.getDeliveredTimes());
        }
        return counts;
    }

    /**
     * Removes consumers of earlier runs (another consumer name, such as a restarted instance's) that hold nothing and
     * have been idle longer than {@code message-timeout}, so that consumers do not pile up.
     */
    private void removeIdleConsumers(GroupState g) {
        try {
            long idleMs = Math.max(policy.messageTimeout().toMillis(), MIN_RECLAIM_INTERVAL_MS);
            List<StreamConsumerInfo> consumers = connection.execute("XINFO CONSUMERS",
                    j -> j.xinfoConsumers2(g.stream, g.group));
            for (StreamConsumerInfo c : consumers) {
                if (c.getPending() == 0 && c.getIdle() >= idleMs && !c.getName().equals(consumer)
                        && !c.getName().equals(RETRY_CONSUMER)) {
                    Object removed = connection.eval("XGROUP DELCONSUMER", DELETE_IDLE_CONSUMER,
                            List.of(g.stream), List.of(g.group, c.getName(), Long.toString(idleMs)));
                    if (removed instanceof Long n && n >= 0) {
                        LOG.log(Level.DEBUG, () -> "broker '" + name() + "': removed idle consumer '" + c.getName()
                                + "' of group '" + g.group + "'");
                    }
                }
            }
        } catch (RedisReplyException e) {
            // No EVAL (ACL) or no such command: idle consumers stay, which is harmless.
            consumerCleanupSupported = false;
            LOG.log(Level.INFO, "broker ''{0}'': idle consumers are not removed: {1}", name(), e.reply());
        }
    }

    // Acknowledging and rejecting

    @Override
    protected boolean doAck(String stream, String id, String group) {
        StreamEntryID entryId = parseId(id);
        if (entryId == null) {
            return false;
        }
        try {
            return connection.execute("XACK", j -> j.xack(stream, group, entryId)) > 0;
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP")) {
                return false;
            }
            throw e;
        }
    }

    /** One XACK for the lot; ids go as they came, not parsed into StreamEntryIDs and printed again. */
    @Override
    protected int doAckAll(String stream, List<String> ids, String group) {
        List<byte[]> entryIds = new ArrayList<>(ids.size());
        for (String id : ids) {
            // One malformed id would fail the whole command: it cannot be pending anyway.
            if (isEntryId(id)) {
                entryIds.add(id.getBytes(StandardCharsets.US_ASCII));
            }
        }
        if (entryIds.isEmpty()) {
            return 0;
        }
        byte[] key = stream.getBytes(StandardCharsets.UTF_8);
        byte[] groupName = group.getBytes(StandardCharsets.UTF_8);
        byte[][] array = entryIds.toArray(new byte[0][]);
        try {
            long acknowledged = connection.execute("XACK", j -> j.xack(key, groupName, array));
            return (int) acknowledged;
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP")) {
                return 0;
            }
            throw e;
        }
    }

    /** Whether the text is a stream entry id such as {@code 1700000000000-0} (or {@code 1700000000000}). */
    static boolean isEntryId(String id) {
        int dash = id.indexOf('-');
        return digits(id, 0, dash < 0 ? id.length() : dash) && (dash < 0 || digits(id, dash + 1, id.length()));
    }

    private static boolean digits(String text, int from, int to) {
        if (to <= from || to - from > 20) {
            return false;
        }
        for (int i = from; i < to; i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        // At most 2^64 - 1: Redis refuses larger parts.
        return to - from < 20 || text.substring(from, to).compareTo("18446744073709551615") <= 0;
    }

    @Override
    protected boolean doNack(String stream, String id, String group) {
        StreamEntryID entryId = parseId(id);
        if (entryId == null) {
            return false;
        }
        StreamPendingEntry entry = heldEntry(stream, group, entryId);
        if (entry == null) {
            return false;
        }
        int deliveries = (int) Math.min(Integer.MAX_VALUE, entry.getDeliveredTimes());
        GroupState g = state(stream, group);
        failed.increment();
        if (policy.exhausted(deliveries)) {
            deadLetter(g, id, null, deliveries, DeadLetter.MAX_RETRIES_EXCEEDED, entry.getConsumerName());
            return true;
        }
        // JUSTID keeps the delivery count; the claim resets the idle time, from which the retry delay counts.
        List<StreamEntryID> moved = connection.execute("XCLAIM", j -> j.xclaimJustId(stream, group, RETRY_CONSUMER,
                0, XClaimParams.xClaimParams(), entryId));
        if (moved.isEmpty()) {
            return false; // acknowledged meanwhile
        }
        g.retryDueBy(System.currentTimeMillis() + policy.delayBeforeRetry(deliveries).toMillis());
        return true;
    }

    /**
     * Claims for {@code to} what no running Courier consumer of the group will deliver: every entry waiting on
     * {@value #RETRY_CONSUMER}, and the entries idle for longer than {@code message-timeout} of consumers idle as
     * long. XCLAIM JUSTID keeps each delivery count; its min-idle leaves an entry a live consumer took meanwhile.
     */
    @Override
    protected int doHandOver(String stream, String group, String to) {
        if (to.equals(RETRY_CONSUMER)) {
            throw new IllegalArgumentException("consumer must not be '" + RETRY_CONSUMER + "', which only holds "
                    + "entries waiting for a retry; give a consumer that reads the group");
        }
        List<StreamConsumerInfo> consumers;
        try {
            consumers = connection.execute("XINFO CONSUMERS", j -> j.xinfoConsumers2(stream, group));
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP") || e.is("ERR no such key")) {
                return 0;
            }
            throw e;
        }
        long timeout = policy.messageTimeout().toMillis();
        int moved = 0;
        for (StreamConsumerInfo c : consumers) {
            boolean retries = c.getName().equals(RETRY_CONSUMER);
            if (c.getName().equals(to) || c.getPending() == 0 || !retries && c.getIdle() < timeout) {
                continue;
            }
            long minIdle = retries ? 0 : timeout;
            String from = "-";
            while (true) {
                String start = from;
                List<StreamPendingEntry> page = connection.execute("XPENDING", j -> j.xpending(stream, group,
                        XPendingParams.xPendingParams(start, "+", RETRY_SCAN).consumer(c.getName())));
                if (page.isEmpty()) {
                    break;
                }
                StreamEntryID[] ids = page.stream().map(StreamPendingEntry::getID).toArray(StreamEntryID[]::new);
                moved += connection.execute("XCLAIM", j -> j.xclaimJustId(stream, group, to, minIdle,
                        XClaimParams.xClaimParams(), ids)).size();
                if (page.size() < RETRY_SCAN) {
                    break;
                }
                from = next(ids[ids.length - 1]);
            }
        }
        int n = moved;
        LOG.log(Level.INFO, () -> "broker '" + name() + "': handed " + n + " pending entries of stream '" + stream
                + "' for group '" + group + "' over to consumer '" + to + "'");
        return moved;
    }

    /**
     * The pending entry of a message a consumer of the group holds, or {@code null} when it is not delivered,
     * already done, or waiting for its retry.
     */
    private StreamPendingEntry heldEntry(String stream, String group, StreamEntryID entryId) {
        List<StreamPendingEntry> pending;
        try {
            pending = connection.execute("XPENDING", j -> j.xpending(stream, group,
                    XPendingParams.xPendingParams(entryId, entryId, 1)));
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP")) {
                return null;
            }
            throw e;
        }
        return pending.isEmpty() || RETRY_CONSUMER.equals(pending.get(0).getConsumerName()) ? null : pending.get(0);
    }

    // Dead letters

    @Override
    protected boolean doMoveToDeadLetters(String stream, String id, String group, String reason) {
        StreamEntryID entryId = parseId(id);
        StreamPendingEntry entry = entryId == null ? null : heldEntry(stream, group, entryId);
        if (entry == null) {
            return false;
        }
        failed.increment();
        deadLetter(state(stream, group), id, null, (int) Math.min(Integer.MAX_VALUE, entry.getDeliveredTimes()),
                reason, entry.getConsumerName());
        return true;
    }

    private void deadLetterQuietly(GroupState g, String id, Map<String, String> fields, int attempts, String reason) {
        try {
            deadLetter(g, id, fields, attempts, reason, consumer);
        } catch (BrokerException e) {
            // Left pending: it comes back after message-timeout, so the dead-lettering is tried again.
            LOG.log(Level.WARNING, "broker ''{0}'': dead-lettering entry {1} of stream ''{2}'' failed, it stays "
                    + "pending: {3}", name(), id, g.stream, e.getMessage());
        }
    }

    /**
     * Writes the entry to {@code <stream>:dlq}, then acknowledges it: a failed write leaves it pending.
     *
     * @param fields the entry's fields, or {@code null} to read them (a deleted entry has none)
     */
    private void deadLetter(GroupState g, String id, Map<String, String> fields, int attempts, String reason,
                            String holder) {
        StreamEntryID entryId = new StreamEntryID(id);
        if (!policy.deadLetterEnabled()) {
            connection.execute("XACK", j -> j.xack(g.stream, g.group, entryId));
            discarded.increment();
            LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' discarded for group ''{3}'' ({4}); "
                    + "enable-dlq is false", name(), id, g.stream, g.group, reason);
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
        String data = fields == null ? null : fields.get(DATA);
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
        Map<String, String> letter = Map.of(DATA, json);
        connection.execute("XADD", j -> j.xadd(g.stream + DLQ_SUFFIX, XADD, letter));
        connection.execute("XACK", j -> j.xack(g.stream, g.group, entryId));
        deadLettered.increment();
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
        for (Object item : castList(castList(found.get(0)).get(1))) {
            raw.add((byte[]) item);
        }
        return raw;
    }

    /** The data field of an entry read as bytes, as text; {@code null} when there is none or it is not UTF-8. */
    private static String rawData(List<byte[]> raw) {
        for (int i = 0; i + 1 < raw.size(); i += 2) {
            if (java.util.Arrays.equals(raw.get(i), DATA_BYTES)) {
                return utf8(raw.get(i + 1));
            }
        }
        return null;
    }

    @Override
    protected List<DeadLetter> doDeadLetters(String stream, int limit) {
        List<StreamEntry> entries = connection.execute("XREVRANGE",
                j -> j.xrevrange(stream + DLQ_SUFFIX, "+", "-", limit));
        List<DeadLetter> letters = new ArrayList<>(entries.size());
        for (StreamEntry entry : entries) {
            letters.add(toDeadLetter(stream, entry));
        }
        return letters;
    }

    @Override
    protected Optional<DeadLetter> doDeadLetter(String stream, String deadLetterId) {
        return findDeadLetter(stream, deadLetterId).map(entry -> toDeadLetter(stream, entry));
    }

    private Optional<StreamEntry> findDeadLetter(String stream, String deadLetterId) {
        StreamEntryID id = parseId(deadLetterId);
        if (id == null) {
            return Optional.empty();
        }
        List<StreamEntry> found = connection.execute("XRANGE", j -> j.xrange(stream + DLQ_SUFFIX, id, id, 1));
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
        String data = f.get(DATA);
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
                original = data != null ? List.of(field(DATA, data)) : fieldsFromJson(f.get(FIELDS));
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
            text.put(new String(field.name(), StandardCharsets.UTF_8), new String(field.value(), StandardCharsets.UTF_8));
        }
        if (text.size() == 1 && text.get(DATA) != null) {
            return (String) text.get(DATA);
        }
        return text.isEmpty() ? "" : JsonCodec.write(text);
    }

    @Override
    protected boolean doReplayDeadLetter(String stream, String deadLetterId) {
        Optional<StreamEntry> entry = findDeadLetter(stream, deadLetterId);
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
        replay(stream, entry.get().getID(), letter.replay());
        return true;
    }

    /**
     * Publishes the dead letter's message again (without {@code _dlq_metadata}), then deletes the letter: a crash
     * between gives a duplicate, never a loss.
     */
    private void replay(String stream, StreamEntryID letterId, String json) {
        connection.execute("XADD", j -> j.xadd(stream, XADD, Map.of(DATA, json)));
        published.increment();
        connection.execute("XDEL", j -> j.xdel(stream + DLQ_SUFFIX, letterId));
    }

    @Override
    protected int doReplayAllDeadLetters(String stream) {
        int replayed = 0;
        String start = "-";
        while (true) {
            String from = start;
            List<StreamEntry> page = connection.execute("XRANGE", j -> j.xrange(stream + DLQ_SUFFIX, from, "+", 100));
            if (page.isEmpty()) {
                return replayed;
            }
            for (StreamEntry entry : page) {
                Letter letter = readLetter(stream, entry);
                if (letter.replay() == null) {
                    LOG.log(Level.WARNING, "broker ''{0}'': dead letter {1} of stream ''{2}'' holds a malformed entry "
                            + "({3}); it stays in the dead-letter queue, not replayed", name(), entry.getID(), stream,
                            letter.letter().reason());
                    continue;
                }
                replay(stream, entry.getID(), letter.replay());
                replayed++;
            }
            start = "(" + page.get(page.size() - 1).getID();
        }
    }

    @Override
    protected int doPurgeDeadLetters(String stream) {
        String key = stream + DLQ_SUFFIX;
        long depth = connection.execute("XLEN", j -> j.xlen(key));
        connection.execute("DEL", j -> j.del(key));
        return (int) Math.min(Integer.MAX_VALUE, depth);
    }

    @Override
    protected long doDeadLetterDepth(String stream) {
        return connection.execute("XLEN", j -> j.xlen(stream + DLQ_SUFFIX));
    }

    // Replay and trimming

    @Override
    protected boolean doReplay(String stream, String group, String fromId) {
        String before = idBefore(fromId);
        if (before == null) {
            throw new IllegalArgumentException("'" + fromId + "' is not a stream entry id such as 1700000000000-0");
        }
        GroupState g = state(stream, group);
        try {
            connection.execute("XGROUP SETID", j -> j.sendCommand(Protocol.Command.XGROUP, "SETID", stream, group,
                    before));
        } catch (RedisReplyException e) {
            if (!e.is("NOGROUP")) {
                throw e;
            }
            connection.execute("XGROUP CREATE", j -> j.sendCommand(Protocol.Command.XGROUP, "CREATE", stream,
                    group, before, "MKSTREAM"));
        }
        g.created = true;
        streams.add(stream);
        return true;
    }

    /** The id just before {@code id}, so that XGROUP SETID to it delivers {@code id} next; null if not an id. */
    static String idBefore(String id) {
        String text = id.trim();
        if (text.equals("0") || text.equals(ZERO) || text.equals("-")) {
            return "0";
        }
        if (text.equals("$")) {
            return "$";
        }
        int dash = text.indexOf('-');
        try {
            long ms = Long.parseUnsignedLong(dash < 0 ? text : text.substring(0, dash));
            long seq = dash < 0 ? 0 : Long.parseUnsignedLong(text.substring(dash + 1));
            if (seq != 0) {
                return Long.toUnsignedString(ms) + "-" + Long.toUnsignedString(seq - 1);
            }
            return ms == 0 ? "0" : Long.toUnsignedString(ms - 1) + "-" + Long.toUnsignedString(-1L);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * Trims the stream to about {@code maxLength} entries. With consumer groups, never past the first entry any group
     * still needs: the lowest of each group's last-delivered id and first pending id (MINID). Without groups,
     * MAXLEN ~.
     */
    @Override
    protected long doTrim(String stream, long maxLength) {
        long length = connection.execute("XLEN", j -> j.xlen(stream));
        if (length <= maxLength) {
            return 0;
        }
        List<StreamGroupInfo> groupInfos = connection.execute("XINFO GROUPS", j -> j.xinfoGroups(stream));
        if (groupInfos.isEmpty()) {
            return connection.execute("XTRIM", j -> j.xtrim(stream,
                    XTrimParams.xTrimParams().maxLen(maxLength).approximateTrimming()));
        }
        StreamEntryID keepFrom = firstNeeded(stream, groupInfos);
        // The first entry to keep for maxLength: the (length - maxLength + 1)th.
        long skip = length - maxLength + 1;
        StreamEntryID cut = null;
        String start = "-";
        while (skip > 0) {
            String from = start;
            int count = (int) Math.min(1000, skip);
            List<StreamEntry> page = connection.execute("XRANGE", j -> j.xrange(stream, from, "+", count));
            if (page.isEmpty()) {
                break;
            }
            skip -= page.size();
            cut = page.get(page.size() - 1).getID();
            start = "(" + cut;
        }
        if (cut == null) {
            return 0;
        }
        StreamEntryID minId = cut.compareTo(keepFrom) < 0 ? cut : keepFrom;
        return connection.execute("XTRIM", j -> j.xtrim(stream, XTrimParams.xTrimParams().minId(minId.toString())));
    }

    /**
     * The first entry some group still needs: the lowest of each group's last-delivered id and first pending id;
     * {@code null} without groups.
     */
    private StreamEntryID firstNeeded(String stream, List<StreamGroupInfo> groupInfos) {
        StreamEntryID keepFrom = null;
        for (StreamGroupInfo info : groupInfos) {
            StreamEntryID needed = info.getLastDeliveredId();
            if (info.getPending() > 0) {
                StreamPendingSummary summary = connection.execute("XPENDING",
                        j -> j.xpending(stream, info.getName()));
                if (summary.getMinId() != null && summary.getMinId().compareTo(needed) < 0) {
                    needed = summary.getMinId();
                }
            }
            keepFrom = keepFrom == null || needed.compareTo(keepFrom) < 0 ? needed : keepFrom;
        }
        return keepFrom;
    }

    /**
     * Removes the entries added before {@code cutoffMs} that every group has acknowledged: XTRIM MINID of the lower
     * of the cutoff and the first entry a group still needs.
     */
    long trimOlderThan(String stream, long cutoffMs) {
        StreamEntryID cut = new StreamEntryID(cutoffMs, 0);
        StreamEntryID keepFrom = firstNeeded(stream, groupInfos(stream));
        StreamEntryID minId = keepFrom == null || cut.compareTo(keepFrom) < 0 ? cut : keepFrom;
        return connection.execute("XTRIM", j -> j.xtrim(stream, XTrimParams.xTrimParams().minId(minId.toString())));
    }

    // Maintenance

    @Override
    public MaintenancePolicy maintenancePolicy() {
        return maintenance;
    }

    /**
     * For each known stream: XTRIM {@code <stream>:dlq} MINID (now - dead-letter-retention), exact, so that no
     * younger dead letter goes; the stream's own entries past {@code retention}; then XLEN of the dead letters. The
     * dead letters' time is that of their entry ids, which Redis gives when they are added.
     */
    @Override
    public Map<String, Long> maintain() {
        long now = System.currentTimeMillis();
        Map<String, Long> depths = new TreeMap<>();
        for (String stream : streams) {
            String dlq = stream + DLQ_SUFFIX;
            if (maintenance.expiresDeadLetters()) {
                String minId = (now - maintenance.deadLetterRetention().toMillis()) + "-0";
                long removed = connection.execute("XTRIM", j -> j.xtrim(dlq, XTrimParams.xTrimParams().minId(minId)));
                if (removed > 0) {
                    LOG.log(Level.DEBUG, () -> "broker '" + name() + "': " + removed + " dead letter(s) of stream '"
                            + stream + "' older than dead-letter-retention removed");
                }
            }
            if (!retention.isZero()) {
                trimOlderThan(stream, now - retention.toMillis());
            }
            depths.put(stream, connection.execute("XLEN", j -> j.xlen(dlq)));
        }
        return depths;
    }

    // Health

    @Override
    protected boolean doPing() {
        return connection.ping();
    }

    @Override
    protected HealthStats doHealthStats() {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("provider", provider());
        details.put("uri", connection.describe());
        details.put("consumer", consumer);
        RedisConnection.ServerHealth server = connection.probe(details);
        HealthStats.Status status = server.status();
        long inFlight = 0;
        if (server.connected()) {
            try {
                for (String stream : streams) {
                    for (StreamGroupInfo info : groupInfos(stream)) {
                        inFlight += info.getPending();
                    }
                }
            } catch (BrokerException e) {
                status = HealthStats.Status.DEGRADED;
                details.put("reason", e instanceof RedisReplyException reply ? reply.reply() : "XINFO failed");
            }
        }
        details.put("streams", streams.size());
        details.put("max_retries", policy.maxRetries());
        details.put("retry_delay_ms", policy.retryDelay().toMillis());
        details.put("backoff_multiplier", policy.backoffMultiplier());
        details.put("message_timeout_ms", policy.messageTimeout().toMillis());
        details.put("enable_dlq", policy.deadLetterEnabled());
        details.put("discarded", discarded.sum());
        details.put("max_length", maxLength);
        details.put("retention_ms", retention.toMillis());
        details.put("dead_letter_retention_ms", maintenance.deadLetterRetention().toMillis());
        details.values().removeIf(java.util.Objects::isNull);
        return new HealthStats(status, server.connected(), connection.lastPong(), uptime(),
                new HealthStats.MessageCounts(published.sum(), inFlight, failed.sum(), deadLettered.sum()), details);
    }

    @Override
    public Map<String, Object> info() {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("name", name());
        info.put("provider", provider());
        info.put("uri", connection.describe());
        info.put("consumer", consumer);
        try {
            Map<String, String> server = connection.serverInfo();
            info.put("redis_version", server.getOrDefault("redis_version", ""));
            info.put("role", server.getOrDefault("role", ""));
            info.put("used_memory", RedisConnection.parseLong(server.get("used_memory")));
            info.put("used_memory_human", server.getOrDefault("used_memory_human", ""));
            info.put("connected_clients", RedisConnection.parseLong(server.get("connected_clients")));
            info.put("loading", "1".equals(server.get("loading")));
            Map<String, Object> streamInfo = new TreeMap<>();
            for (String stream : streams) {
                streamInfo.put(stream, streamInfo(stream));
            }
            info.put("streams", streamInfo);
        } catch (BrokerException e) {
            info.put("error", e.getMessage());
        }
        return info;
    }

    private Map<String, Object> streamInfo(String stream) {
        Map<String, Object> s = new LinkedHashMap<>();
        long length = connection.execute("XLEN", j -> j.xlen(stream));
        s.put("length", length);
        s.put("dlq_depth", connection.execute("XLEN", j -> j.xlen(stream + DLQ_SUFFIX)));
        Map<String, Object> groupMap = new TreeMap<>();
        long pending = 0;
        for (StreamGroupInfo info : groupInfos(stream)) {
            Map<String, Object> gi = new LinkedHashMap<>();
            gi.put("pending", info.getPending());
            gi.put("last_delivered_id", String.valueOf(info.getLastDeliveredId()));
            Object lag = info.getGroupInfo().get("lag"); // Redis 7+
            gi.put("lag", lag instanceof Long l ? l : -1L);
            List<Map<String, Object>> consumers = new ArrayList<>();
            for (StreamConsumerInfo c : connection.execute("XINFO CONSUMERS",
                    j -> j.xinfoConsumers2(stream, info.getName()))) {
                consumers.add(Map.of("name", c.getName(), "pending", c.getPending(), "idle_ms", c.getIdle()));
            }
            gi.put("consumers", consumers);
            groupMap.put(info.getName(), gi);
            pending += info.getPending();
        }
        s.put("pending", pending);
        s.put("groups", groupMap);
        return s;
    }

    private List<StreamGroupInfo> groupInfos(String stream) {
        try {
            return connection.execute("XINFO GROUPS", j -> j.xinfoGroups(stream));
        } catch (RedisReplyException e) {
            return List.of(); // no such key
        }
    }

    @Override
    public void close() {
        connection.close();
    }

    // Helpers

    private GroupState state(String stream, String group) {
        return groups.computeIfAbsent(stream, s -> new ConcurrentHashMap<>())
                .computeIfAbsent(group, g -> {
                    GroupState state = new GroupState(stream, g);
                    state.leftoverSince = createdAt;
                    state.seenFailures = connection.failures();
                    return state;
                });
    }

    /** XGROUP CREATE stream group 0 MKSTREAM, once; BUSYGROUP (another creator was first) is success. */
    private void ensureGroup(GroupState g) {
        if (g.created) {
            return;
        }
        try {
            connection.execute("XGROUP CREATE", j -> j.xgroupCreate(g.stream, g.group, new StreamEntryID(), true));
        } catch (RedisReplyException e) {
            if (!e.is("BUSYGROUP")) {
                throw e;
            }
        }
        g.created = true;
        streams.add(g.stream);
    }

    private static StreamEntryID parseId(String id) {
        try {
            return new StreamEntryID(id);
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static Map<String, String> fields(Object raw) {
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
    private static List<Object> castList(Object value) {
        return value == null ? List.of() : (List<Object>) value;
    }

    private static int parseInt(String text) {
        return (int) Math.min(Integer.MAX_VALUE, RedisConnection.parseLong(text));
    }

    /** What this broker object knows of one group of one stream. */
    private static final class GroupState {
        final String stream;
        final String group;
        final byte[] streamKey;
        final byte[] groupKey;
        volatile boolean created;
        /** Where the look for this consumer's left-over entries goes on; {@code null} once it reached the end. */
        volatile String leftoverCursor = "-";
        /** Entries this consumer has held since before this time (epoch ms) are left over. */
        volatile long leftoverSince;
        /** The connection's failure count when this group last looked for left-over entries. */
        volatile long seenFailures;
        /** Where the next XAUTOCLAIM starts; 0-0 begins a scan. */
        volatile String reclaimCursor = ZERO;
        volatile long nextReclaimAt;
        /** When to look at the retry consumer's PEL next: the earliest known due time, else a poll. */
        private long nextRetryCheckAt;

        GroupState(String stream, String group) {
            this.stream = stream;
            this.group = group;
            this.streamKey = SafeEncoder.encode(stream);
            this.groupKey = SafeEncoder.encode(group);
        }

        /** After a look at the retry PEL that began when the next check was {@code seen}. */
        synchronized void retryCheckedUntil(long seen, long next) {
            // A nack during the look may have asked for an earlier check: keep it.
            nextRetryCheckAt = nextRetryCheckAt == seen ? next : Math.min(nextRetryCheckAt, next);
        }

        /** A retry is due by then (this instance rejected an entry). */
        synchronized void retryDueBy(long due) {
            nextRetryCheckAt = Math.min(nextRetryCheckAt, due);
        }

        synchronized long nextRetryCheckAt() {
            return nextRetryCheckAt;
        }
    }
}
