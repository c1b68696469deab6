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
import dev.courier.spi.JsonCodec;
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
    private static final byte[] UNDELIVERED = SafeEncoder.encode(">");
    static final String DLQ_SUFFIX = ":dlq";
    /** The consumer that holds rejected entries while they wait for their retry. */
    static final String RETRY_CONSUMER = "courier-retry";

    /** How many retry entries one look at the retry consumer's PEL considers. */
    private static final int RETRY_SCAN = 100;
    /** How often a reader looks for retries rejected by other instances. */
    private static final long RETRY_POLL_MS = 1000;
    private static final long MIN_RECLAIM_INTERVAL_MS = 100;
    private static final long MAX_RECLAIM_INTERVAL_MS = 30_000;

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
    private final MaintenancePolicy maintenance;
    private final Duration blockTimeout;
    private final long reclaimIntervalMs;
    private final ConsumerGroups groups;
    private final Counters counters = new Counters();
    private final DeadLetterQueue deadLetters;
    private final Trimmer trimmer;
    private final HealthReport health;
    private volatile boolean reclaimSupported = true;
    private volatile boolean consumerCleanupSupported = true;

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
        this.groups = new ConsumerGroups(connection);
        this.deadLetters = new DeadLetterQueue(name, connection, policy, consumer, counters);
        this.trimmer = new Trimmer(name, connection, groups, retention, maintenance);
        this.health = new HealthReport(name, RedisBrokerProvider.NAME, connection, policy, consumer, groups, counters,
                retention, maintenance);
        this.policy = policy;
        this.consumer = consumer;
        this.consumerKey = SafeEncoder.encode(consumer);
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
        counters.published.increment();
        afterPublish(stream, 1);
        return id;
    }

    @Override
    protected List<String> doPublishAllJson(String stream, List<String> texts) {
        byte[] key = stream.getBytes(StandardCharsets.UTF_8);
        List<Map<byte[], byte[]>> entries = new ArrayList<>(texts.size());
        for (String json : texts) {
            entries.add(Map.of(StreamEntries.DATA_BYTES, json.getBytes(StandardCharsets.UTF_8)));
        }
        // One round trip for the lot, written at most once (RedisConnection.write): after a timeout or a lost
        // connection, the outcome is unknown and the batch is not sent again.
        // Binary XADD: the ids come back as text, without being parsed into StreamEntryIDs and printed again.
        List<Object> replies = connection.write("XADD (pipelined)", c -> {
            try (Pipeline pipeline = new Pipeline(c)) {
                List<Response<byte[]>> responses = new ArrayList<>(entries.size());
                for (Map<byte[], byte[]> entry : entries) {
                    responses.add(pipeline.xadd(key, StreamEntries.XADD, entry));
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
        counters.published.add(stored.size());
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
        groups.add(stream);
        trimmer.published(stream, count);
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
        GroupState g = groups.state(stream, group);
        groups.ensure(g);
        List<Message> out = new ArrayList<>(Math.min(max, 16));
        long now = System.currentTimeMillis();
        long failures = connection.failures();
        if (failures != g.seenFailures) {
            // Redis could not be reached: a batch may have been left half done, or its acks lost. What this
            // consumer held then is delivered again now, not after message-timeout.
            g.seenFailures = failures;
            g.leftoverSince = connection.lastFailureAt();
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
            groups.ensure(g);
            result = xreadgroup(g, params, key, blockMs >= 1);
        }
        if (result == null) {
            return;
        }
        // [[stream, [[id, [field, value, ...]], ...]]]
        for (Object streamReply : result) {
            for (Object item : StreamEntries.castList(StreamEntries.castList(streamReply).get(1))) {
                deliverRaw(g, StreamEntries.castList(item), out);
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
        List<Object> fields = entry.get(1) == null ? null : StreamEntries.castList(entry.get(1));
        if (fields != null) {
            for (int i = 0; i + 1 < fields.size(); i += 2) {
                if (java.util.Arrays.equals((byte[]) fields.get(i), StreamEntries.DATA_BYTES)) {
                    byte[] raw = (byte[]) fields.get(i + 1);
                    if (raw.length > maxMessageSize()) {
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
                            out.add(new Message(id, g.stream, payload, 1));
                            return;
                        }
                    } catch (IllegalArgumentException e) {
                        // Not JSON, or past a bound (a number's digits, nesting): no need to decode and parse it
                        // again by the general route, which dead-letters the rest.
                        LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' is not a message (data is "
                                + "not a JSON object: {3}); dead-lettering it", name(), id, g.stream, e.getMessage());
                        deadLetters.writeQuietly(g, id, null, 1, DeadLetter.MALFORMED);
                        return;
                    }
                    break;
                }
            }
        }
        deliver(g, new StreamEntry(new StreamEntryID(id), StreamEntries.fields(entry.get(1))), 1, out);
    }

    /** Dead-letters an entry whose data is not UTF-8; the letter keeps its bytes (read again, as bytes). */
    private void notUtf8(GroupState g, String id, int deliveryCount) {
        LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' is not a message (data is not UTF-8); "
                + "dead-lettering it", name(), id, g.stream);
        deadLetters.writeQuietly(g, id, null, deliveryCount, DeadLetter.MALFORMED);
    }

    /** Whether an entry's fields, as XAUTOCLAIM gives them, hold a data field that is not UTF-8. */
    private static boolean dataNotUtf8(Object raw) {
        byte[] data = StreamEntries.data(StreamEntries.castList(raw));
        return data != null && StreamEntries.utf8(data) == null;
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
            deadLetters.writeQuietly(g, entry.getID().toString(), fields, deliveryCount, DeadLetter.MALFORMED);
            return;
        }
        out.add(new Message(entry.getID().toString(), g.stream, payload, deliveryCount));
    }

    /** Dead-letters an entry whose data is over max-message-size, without parsing it. */
    private void deadLetterTooLarge(GroupState g, String id, Map<String, String> fields, long size, int deliveryCount) {
        LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' has {3} bytes of data, more than "
                + "max-message-size ({4} bytes); dead-lettering it unparsed", name(), id, g.stream, size,
                maxMessageSize());
        deadLetters.writeQuietly(g, id, fields, deliveryCount, DeadLetter.TOO_LARGE);
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
        g.leftoverCursor = pending.size() < count ? null : StreamEntries.next(pending.get(pending.size() - 1).getID());
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
                counters.failed.increment();
                deadLetters.writeQuietly(g, entry.getID().toString(), entry.getFields(), deliveries - 1,
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

    /**
     * Claims entries held longer than {@code message-timeout} (their consumer crashed or hangs) with XAUTOCLAIM,
     * carrying the cursor from read to read until a scan of the PEL is complete.
     */
    private void reclaim(GroupState g, List<Message> out, int max, long now) {
        String cursor = g.reclaimCursor;
        int count = max - out.size();
        List<Object> reply;
        try {
            reply = connection.execute("XAUTOCLAIM", j -> StreamEntries.castList(j.sendCommand(Protocol.Command.XAUTOCLAIM,
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
        boolean complete = StreamEntries.ZERO.equals(nextCursor);
        g.reclaimCursor = complete ? StreamEntries.ZERO : nextCursor;
        g.nextReclaimAt = complete ? now + reclaimIntervalMs : now;

        List<Object> entries = StreamEntries.castList(reply.get(1));
        if (!entries.isEmpty()) {
            List<StreamEntry> claimed = new ArrayList<>(entries.size());
            for (Object item : entries) {
                if (item == null) {
                    continue;
                }
                List<Object> pair = StreamEntries.castList(item);
                StreamEntryID id = new StreamEntryID(SafeEncoder.encode((byte[]) pair.get(0)));
                if (dataNotUtf8(pair.get(1))) {
                    notUtf8(g, id.toString(), 0);
                    continue;
                }
                claimed.add(new StreamEntry(id, StreamEntries.fields(pair.get(1))));
            }
            Map<StreamEntryID, Long> counts = deliveryCounts(g, claimed);
            for (StreamEntry entry : claimed) {
                int deliveries = (int) Math.min(Integer.MAX_VALUE, counts.getOrDefault(entry.getID(), 1L));
                if (policy.exhausted(deliveries - 1)) {
                    // Delivered and never acknowledged more often than max-retries allows.
                    counters.failed.increment();
                    deadLetters.writeQuietly(g, entry.getID().toString(), entry.getFields(), deliveries - 1,
                            DeadLetter.TIMEOUT);
                } else {
                    deliver(g, entry, deliveries, out);
                }
            }
        }
        if (reply.size() > 2 && reply.get(2) != null) {
            // Redis 7: entries deleted (trimmed) while pending, already removed from the PEL.
            for (Object deleted : StreamEntries.castList(reply.get(2))) {
                String id = SafeEncoder.encode((byte[]) deleted);
                LOG.log(Level.WARNING, "broker ''{0}'': pending entry {1} of stream ''{2}'' was deleted before it "
                        + "was acknowledged; dead-lettering what is known of it", name(), id, g.stream);
                deadLetters.writeQuietly(g, id, null, 0, DeadLetter.MALFORMED);
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
        StreamEntryID entryId = StreamEntries.parseId(id);
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
        StreamEntryID entryId = StreamEntries.parseId(id);
        if (entryId == null) {
            return false;
        }
        StreamPendingEntry entry = heldEntry(stream, group, entryId);
        if (entry == null) {
            return false;
        }
        int deliveries = (int) Math.min(Integer.MAX_VALUE, entry.getDeliveredTimes());
        GroupState g = groups.state(stream, group);
        counters.failed.increment();
        if (policy.exhausted(deliveries)) {
            deadLetters.write(g, id, null, deliveries, DeadLetter.MAX_RETRIES_EXCEEDED, entry.getConsumerName());
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
                from = StreamEntries.next(ids[ids.length - 1]);
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
        StreamEntryID entryId = StreamEntries.parseId(id);
        StreamPendingEntry entry = entryId == null ? null : heldEntry(stream, group, entryId);
        if (entry == null) {
            return false;
        }
        counters.failed.increment();
        deadLetters.write(groups.state(stream, group), id, null,
                (int) Math.min(Integer.MAX_VALUE, entry.getDeliveredTimes()), reason, entry.getConsumerName());
        return true;
    }

    @Override
    protected List<DeadLetter> doDeadLetters(String stream, int limit) {
        return deadLetters.list(stream, limit);
    }

    @Override
    protected Optional<DeadLetter> doDeadLetter(String stream, String deadLetterId) {
        return deadLetters.find(stream, deadLetterId);
    }

    @Override
    protected boolean doReplayDeadLetter(String stream, String deadLetterId) {
        return deadLetters.replay(stream, deadLetterId);
    }

    @Override
    protected int doReplayAllDeadLetters(String stream) {
        return deadLetters.replayAll(stream);
    }

    @Override
    protected int doPurgeDeadLetters(String stream) {
        return deadLetters.purge(stream);
    }

    @Override
    protected long doDeadLetterDepth(String stream) {
        return deadLetters.depth(stream);
    }

    // Replay and trimming

    @Override
    protected boolean doReplay(String stream, String group, String fromId) {
        String before = idBefore(fromId);
        if (before == null) {
            throw new IllegalArgumentException("'" + fromId + "' is not a stream entry id such as 1700000000000-0");
        }
        groups.setId(stream, group, before);
        return true;
    }

    /** The id just before {@code id}, so that XGROUP SETID to it delivers {@code id} next; null if not an id. */
    static String idBefore(String id) {
        String text = id.trim();
        if (text.equals("0") || text.equals(StreamEntries.ZERO) || text.equals("-")) {
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

    @Override
    protected long doTrim(String stream, long maxLength) {
        return trimmer.trim(stream, maxLength);
    }

    // Maintenance

    @Override
    public MaintenancePolicy maintenancePolicy() {
        return maintenance;
    }

    @Override
    public Map<String, Long> maintain() {
        return trimmer.maintain();
    }

    // Health

    @Override
    protected boolean doPing() {
        return connection.ping();
    }

    @Override
    protected HealthStats doHealthStats() {
        return health.stats(uptime());
    }

    @Override
    public Map<String, Object> info() {
        return health.info();
    }

    @Override
    public void close() {
        connection.close();
    }

}
