package dev.courier.redis;

import dev.courier.BrokerCapability;
import dev.courier.BrokerConfigurationException;
import dev.courier.BrokerException;
import dev.courier.DeadLetter;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.PartialPublishException;
import dev.courier.Partitions;
import dev.courier.spi.AbstractBroker;
import dev.courier.internal.JsonCodec;
import dev.courier.spi.Maintained;
import dev.courier.spi.MaintenancePolicy;
import dev.courier.spi.Retention;
import dev.courier.spi.RetryPolicy;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.resps.StreamPendingEntry;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
 * <li>dead-lettering writes the entry to {@code <stream>:dlq} and acknowledges it in one script, or, where the two
 * keys are in different slots of a cluster, writes it first and acknowledges it only then.</li>
 * </ul>
 *
 * <p>{@link #maintain()} removes the dead letters older than {@code dead-letter-retention}, by the time in their
 * entry ids (XTRIM MINID), and, with {@code retention}, the stream entries older than it that every group has
 * acknowledged; both for the streams this broker object has published to or read.
 *
 * <p>This class publishes and wires the parts that do the rest, each a job of its own: {@link GroupReader} reads a
 * group and acknowledges ({@link ReadAhead} sends its next read early under a backlog), {@link PendingRecovery}
 * claims back retries, left-over entries and those of crashed consumers, {@link Delivery} turns entries into
 * messages, {@link DeadLetterQueue} writes and reads the dead letters, {@link Trimmer} trims, {@link RedisHealth}
 * reports, {@link PriorityLanes} reads a stream with its backfill lane ({@link LaneSettings}); {@link ConsumerGroups}
 * knows the groups they share. All of them talk to Redis through one {@link RedisConnection}.
 */
final class RedisBroker extends AbstractBroker implements Maintained, Partitions {

    static final Set<BrokerCapability> CAPABILITIES = EnumSet.of(
            BrokerCapability.PUBLISH, BrokerCapability.SUBSCRIBE, BrokerCapability.CONSUMER_GROUPS,
            BrokerCapability.ACK_NACK, BrokerCapability.DELIVERY_GUARANTEES, BrokerCapability.MESSAGE_ORDERING,
            BrokerCapability.BLOCKING_READ, BrokerCapability.DEAD_LETTER_QUEUE, BrokerCapability.REPLAY,
            BrokerCapability.STREAM_PARTITIONING);

    /** The field of a stream entry that holds the message's JSON. */
    static final String DATA = "data";
    static final String DLQ_SUFFIX = ":dlq";
    /** The consumer that holds rejected entries while they wait for their retry. */
    static final String RETRY_CONSUMER = "courier-retry";

    private final RedisConnection connection;
    /** One combiner per master (one on a single node or Sentinel), so that publishers to several masters overlap. */
    private final Map<Object, XaddCombiner> combiners = new java.util.concurrent.ConcurrentHashMap<>();
    private final RetryPolicy policy;
    private final String consumer;
    private final MaintenancePolicy maintenance;
    private final Duration blockTimeout;
    private final ConsumerGroups groups;
    private final Counters counters = new Counters();
    private final DeadLetterQueue deadLetters;
    private final Trimmer trimmer;
    private final RedisHealth health;
    private final PendingRecovery recovery;
    private final GroupReader reader;
    private final PartitionedStreams partitions;
    /** The loop consuming each partitioned (stream, group) through this broker (see {@link #claimLoop}). */
    private final Map<List<String>, Object> partitionedLoops = new java.util.concurrent.ConcurrentHashMap<>();
    private final PartitionSettings partitioning;
    private final LaneSettings lanes;
    /** Reads a plain stream with its backfill lane, with lanes on. */
    private final PriorityLanes laneReader;

    RedisBroker(String name, RedisConnection connection, RetryPolicy policy, String consumer, Retention retention,
                MaintenancePolicy maintenance, Duration blockTimeout, long maxMessageSize,
                PartitionSettings partitioning, LaneSettings lanes) {
        super(name, RedisBrokerProvider.NAME, connection.isCluster() ? capabilitiesOnCluster() : CAPABILITIES,
                maxMessageSize);
        this.partitioning = partitioning;
        if (connection.isCluster() && !partitioning.keyFields().isEmpty()) {
            throw new BrokerConfigurationException(BrokerConfigurationException.Code.INVALID_VALUE,
                    "brokers." + name + "." + partitioning.keyOptions().values().iterator().next(),
                    "partitioned streams do not run on a Redis Cluster (Protean's keys <stream>:<key>, "
                    + "<stream>:__partitions__ and the leases are in different slots)");
        }
        this.partitions = new PartitionedStreams(connection, partitioning.keyFields());
        this.connection = connection;
        this.policy = policy;
        this.consumer = consumer;
        this.maintenance = maintenance;
        this.blockTimeout = blockTimeout;
        this.groups = new ConsumerGroups(connection);
        this.deadLetters = new DeadLetterQueue(name, connection, policy, consumer, counters);
        this.trimmer = new Trimmer(name, connection, groups, retention, maintenance);
        this.health = new RedisHealth(name, RedisBrokerProvider.NAME, connection, policy, consumer, groups, counters,
                retention, maintenance, partitions::haltedKeys, partitions::sharedHaltedKeys);
        Delivery delivery = new Delivery(name, maxMessageSize, deadLetters);
        this.recovery = new PendingRecovery(name, connection, policy, consumer, groups, delivery, deadLetters,
                counters);
        this.reader = new GroupReader(name, connection, consumer, groups, recovery, delivery);
        this.lanes = lanes;
        this.laneReader = new PriorityLanes(lanes, reader, groups);
    }

    /** On a Redis Cluster: no partitioning (Protean's keys span slots; see README, Partitioned streams). */
    private static Set<BrokerCapability> capabilitiesOnCluster() {
        Set<BrokerCapability> capabilities = EnumSet.copyOf(CAPABILITIES);
        capabilities.remove(BrokerCapability.STREAM_PARTITIONING);
        return capabilities;
    }

    String consumer() {
        return consumer;
    }

    // Partitioned streams

    @Override
    public void partitionBy(String stream, String keyField) {
        if (!hasCapability(BrokerCapability.STREAM_PARTITIONING)) {
            throw new UnsupportedOperationException("broker '" + name() + "' cannot partition stream '" + stream
                    + "': partitioned streams do not run on a Redis Cluster (Protean's keys <stream>:<key>, "
                    + "<stream>:__partitions__ and the leases are in different slots)");
        }
        partitions.partitionBy(stream, keyField);
    }

    /** The group's partitioned consumer, or {@code null} when the stream is not partitioned. */
    private PartitionedGroup partitioned(String stream, String group) {
        if (!partitions.isPartitioned(stream)) {
            return null;
        }
        return partitions.group(stream, group, (category, g) -> new PartitionedGroup(name(), category, g,
                connection, deadLetters, groups, policy, partitioning.poison(g), partitioning.leaseTtlMs(),
                partitioning.reapIdleMs(), consumer, lanes));
    }

    @Override
    public boolean haltsOnPoison(String stream, String group) {
        return partitions.isPartitioned(stream) && partitioning.poison(group) == PartitionedGroup.Poison.HALT;
    }

    @Override
    public List<HaltedKey> halted(String category, String group) {
        // Looked up, never made: an instance that does not consume the category must not take its keys.
        PartitionedGroup partitioned = partitions.existing(category, group);
        List<HaltedKey> local = partitioned == null ? List.of() : partitioned.halted();
        return partitionable(group) ? new SharedHalts(connection, group).list(category, local) : local;
    }

    @Override
    public boolean skip(String category, String group, String key) {
        return resolve(category, group, key, HaltedKeys.Resolution.SKIP);
    }

    @Override
    public boolean deadLetter(String category, String group, String key) {
        return resolve(category, group, key, HaltedKeys.Resolution.DEAD_LETTER);
    }

    @Override
    public boolean retry(String category, String group, String key) {
        return resolve(category, group, key, HaltedKeys.Resolution.RETRY);
    }

    /** Here when this instance owns the key; else asked of its owner, which carries it out at its next heartbeat. */
    private boolean resolve(String category, String group, String key, HaltedKeys.Resolution resolution) {
        PartitionedGroup partitioned = partitions.existing(category, group);
        if (partitioned != null && partitioned.resolve(key, resolution)) {
            return true;
        }
        // A halt on a key's backfill lane is named <key>:<suffix>.
        String laneEnd = ":" + lanes.suffix();
        String base = lanes.enabled() && key.endsWith(laneEnd) ? key.substring(0, key.length() - laneEnd.length())
                : key;
        return partitionable(group) && PartitionKey.rule(base) == null
                && new SharedHalts(connection, group).request(key, resolution);
    }

    /** Whether the group can have leases ({@code <group>:<key>:__lease__} holds no other colon). */
    private boolean partitionable(String group) {
        return hasCapability(BrokerCapability.STREAM_PARTITIONING) && group.indexOf(':') < 0;
    }

    /** A partitioned stream's loop keys by the message's stream, its partition, and may be given several of one. */
    @Override
    public boolean keepsOrderPerStream(String stream, String group) {
        PartitionedGroup partitioned = partitioned(stream, group);
        return partitioned != null && partitioned.keepsOrderPerStream();
    }

    /** A partitioned group's keys are handed out by one reader: one loop of this broker consumes it. */
    @Override
    public void claimLoop(String stream, String group, Object loop) {
        if (!partitions.isPartitioned(stream)) {
            return;
        }
        Object other = partitionedLoops.putIfAbsent(List.of(stream, group), loop);
        if (other != null && other != loop) {
            throw new IllegalStateException("stream '" + stream + "' of broker '" + name() + "' is partitioned, and "
                    + "group '" + group + "' would consume it in two loops of this instance (" + other + ", " + loop
                    + "): a partitioned group's keys are handed out by one loop per broker, or a key's messages "
                    + "would run in both at once; give one of the subscribers another group, or one broker each");
        }
    }

    /**
     * The loop stopped: its read ahead ends, what was read ahead left pending; on a partitioned stream the acks its
     * reads handed in and the reader held back go now, not at the next heartbeat.
     */
    @Override
    public void releaseLoop(String stream, String group, Object loop) {
        if (!partitions.isPartitioned(stream)) {
            reader.endReadAhead(stream, group);
            return;
        }
        if (!partitionedLoops.remove(List.of(stream, group), loop)) {
            return;
        }
        PartitionedGroup partitioned = partitions.existing(stream, group);
        if (partitioned != null) {
            partitioned.flushAcks();
        }
    }

    @Override
    public boolean mayStart(String stream, String group, Message message) {
        PartitionedGroup partitioned = partitions.existing(stream, group);
        return partitioned == null || partitioned.mayStart(message);
    }

    /**
     * Under a backlog, the loop's next XREADGROUP goes out before it is given the last batch (see {@link ReadAhead}):
     * Redis prepares one while the loop handles the other. Not on a partitioned stream, whose reads are its own.
     */
    @Override
    public void readAhead(String stream, String group, int max) {
        if (!partitions.isPartitioned(stream)) {
            // Handed out as read well before message-timeout, after which another consumer may claim it; never
            // delivered again sooner, which would count against max-retries.
            Duration stale = policy.messageTimeout().dividedBy(2);
            reader.readAhead(stream, group, Math.max(0, max), stale);
        }
    }

    /** The group's partitioned consumer, for tests: null until the group has read here. */
    PartitionedGroup partitionedGroup(String stream, String group) {
        return partitions.existing(stream, group);
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
        return doPublishJson(stream, JsonCodec.write(payload), payload);
    }

    /**
     * Concurrent publishes share round trips (see {@link XaddCombiner}); a lone one is a plain XADD. To a partitioned
     * stream, the key is read from the fields the JSON was written from.
     */
    @Override
    protected String doPublishJson(String stream, String json, Map<String, ?> fields) {
        if (partitions.isPartitioned(stream)) {
            String key = partitionKey(stream, fields);
            String id = partitions.publish(stream, key, partitionStream(stream, key, fields),
                    TraceFields.entry(StreamEntries.DATA_BYTES, json, traceContext()));
            counters.published.increment(); // never trimmed: Protean's reaper alone removes partition streams
            return id;
        }
        String target = lanes.laned(stream) && lanes.toLane(fields) ? lanes.lane(stream) : stream;
        String id = combiners.computeIfAbsent(connection.nodeOf(target), node -> new XaddCombiner(connection))
                .xadd(target, json, traceContext());
        counters.published.increment();
        afterPublish(target, 1);
        return id;
    }

    /** A partitioned stream's keys are read from the messages' fields, and with lanes on their priorities. */
    @Override
    protected boolean readsFields(String stream) {
        return partitions.isPartitioned(stream) || lanes.laned(stream);
    }

    /** The message's key; one that is the backfill suffix is refused, as Protean refuses it. */
    private String partitionKey(String category, Map<String, ?> fields) {
        String key = partitions.keyOf(category, fields);
        if (lanes.enabled() && key.equals(lanes.suffix())) {
            throw new IllegalArgumentException("partition key of stream '" + category + "': is the reserved name '"
                    + key + "' (backfill-suffix); nothing was sent");
        }
        return key;
    }

    /** The stream a partitioned message goes to: its key's, or with lanes on and a low priority, its key's lane. */
    private String partitionStream(String category, String key, Map<String, ?> fields) {
        String stream = PartitionedStreams.stream(category, key);
        return lanes.enabled() && lanes.toLane(fields) ? lanes.lane(stream) : stream;
    }

    @Override
    protected List<String> doPublishAllJson(String stream, List<String> texts, List<Map<String, ?>> fields) {
        Map<String, String> context = traceContext();
        List<Map<byte[], byte[]>> entries = new ArrayList<>(texts.size());
        for (String json : texts) {
            entries.add(TraceFields.entry(StreamEntries.DATA_BYTES, json, context));
        }
        if (partitions.isPartitioned(stream)) {
            List<String> keys = new ArrayList<>(texts.size());
            List<String> streams = new ArrayList<>(texts.size());
            for (int i = 0; i < texts.size(); i++) {
                // Every key checked before any is sent. No fields: partitioned (partitionBy) since the check.
                Map<String, ?> f = fields != null ? fields.get(i) : JsonCodec.parse(texts.get(i));
                String key = partitionKey(stream, f);
                keys.add(key);
                streams.add(partitionStream(stream, key, f));
            }
            // All the SADD and XADD pairs in one MULTI/EXEC, written at most once; never trimmed.
            return stored(stream, "SADD + XADD", partitions.publishAll(stream, keys, streams, entries), false);
        }
        if (lanes.laned(stream)) {
            return publishAllLaned(stream, texts, fields, entries);
        }
        return stored(stream, "XADD", xaddAll(stream, entries), true);
    }

    /**
     * A batch with lanes on: each message to the stream or, below the threshold, to its lane; one pipeline per
     * stream (on a cluster the two may be on different masters), the stream's first.
     */
    private List<String> publishAllLaned(String stream, List<String> texts, List<Map<String, ?>> fields,
                                         List<Map<byte[], byte[]>> entries) {
        List<Integer> low = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            if (lanes.toLane(fields != null ? fields.get(i) : JsonCodec.parse(texts.get(i)))) {
                low.add(i);
            }
        }
        String lane = lanes.lane(stream);
        if (low.isEmpty() || low.size() == entries.size()) {
            String target = low.isEmpty() ? stream : lane;
            return stored(target, "XADD", xaddAll(target, entries), true);
        }
        List<Map<byte[], byte[]>> high = new ArrayList<>(entries.size() - low.size());
        List<Map<byte[], byte[]>> lows = new ArrayList<>(low.size());
        boolean[] toLane = new boolean[entries.size()];
        low.forEach(i -> toLane[i] = true);
        for (int i = 0; i < entries.size(); i++) {
            (toLane[i] ? lows : high).add(entries.get(i));
        }
        List<Object> highReplies = xaddAll(stream, high);
        List<Object> lowReplies;
        try {
            lowReplies = xaddAll(lane, lows);
        } catch (BrokerException e) {
            // The stream's part is stored (as far as its replies say), the lane's is not known to be.
            Map<Integer, String> stored = new LinkedHashMap<>();
            List<Integer> notStored = new ArrayList<>();
            for (int i = 0, h = 0; i < entries.size(); i++) {
                if (!toLane[i] && highReplies.get(h++) instanceof String id) {
                    stored.put(i, id);
                } else {
                    notStored.add(i);
                }
            }
            counters.published.add(stored.size());
            afterPublish(stream, stored.size());
            throw new PartialPublishException("broker '" + name() + "': publishAll to stream '" + stream + "': "
                    + stored.size() + " of " + entries.size() + " messages stored, " + notStored.size()
                    + " not (indexes " + indexes(notStored) + "; those to its lane '" + lane + "' failed): "
                    + e.getMessage(), stored, notStored, e);
        }
        afterPublish(lane, (int) lowReplies.stream().filter(String.class::isInstance).count());
        List<Object> replies = new ArrayList<>(entries.size());
        for (int i = 0, h = 0, l = 0; i < entries.size(); i++) {
            replies.add(toLane[i] ? lowReplies.get(l++) : highReplies.get(h++));
        }
        // Counted as published and trimmed per stream: the lane's above, the stream's in stored.
        return stored(stream, "XADD", replies, true, (int) highReplies.stream().filter(String.class::isInstance)
                .count());
    }

    /** The entries XADDed to one stream in one pipeline: each one's id, or the error that refused it. */
    private List<Object> xaddAll(String stream, List<Map<byte[], byte[]>> entries) {
        byte[] key = stream.getBytes(StandardCharsets.UTF_8);
        // One round trip for the lot, written at most once (RedisConnection.write): after a timeout or a lost
        // connection, the outcome is unknown and the batch is not sent again.
        // Binary XADD: the ids come back as text, without being parsed into StreamEntryIDs and printed again.
        return connection.write("XADD (pipelined)", List.of(stream), c -> {
            try (Pipeline pipeline = new Pipeline(c)) {
                List<Response<byte[]>> responses = new ArrayList<>(entries.size());
                for (Map<byte[], byte[]> entry : entries) {
                    responses.add(pipeline.xadd(key, StreamEntries.XADD, entry));
                }
                pipeline.sync();
                RedisConnection.throwIfAllRefused(responses);
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
    }

    /**
     * The ids of a publishAll's replies (an id, or the error that refused the message), counted as published (and
     * for trimming, where {@code trimmed}); {@link PartialPublishException} when some were refused.
     */
    private List<String> stored(String stream, String operation, List<Object> replies, boolean trimmed) {
        return stored(stream, operation, replies, trimmed, -1);
    }

    /** As above, {@code trimmedCount} (when not negative) of the stored ones being the stream's, for trimming. */
    private List<String> stored(String stream, String operation, List<Object> replies, boolean trimmed,
                                int trimmedCount) {
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
        int streamStored = trimmedCount < 0 ? stored.size() : trimmedCount;
        if (trimmed && streamStored > 0) {
            afterPublish(stream, streamStored);
        }
        if (firstRefusal != null) {
            BrokerException reason = connection.translate(operation, firstRefusal);
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
        PartitionedGroup partitioned = partitioned(stream, group);
        if (partitioned != null) {
            return partitioned.read(max, 0L, List.of());
        }
        if (lanes.laned(stream)) {
            return laneReader.read(stream, group, max, 0L, List.of());
        }
        return reader.read(stream, group, max, 0L);
    }

    @Override
    protected List<Message> doRead(String stream, String group, int max, Duration block) {
        PartitionedGroup partitioned = partitioned(stream, group);
        if (partitioned != null) {
            return partitioned.read(max, Math.min(block.toMillis(), blockTimeout.toMillis()), List.of());
        }
        if (lanes.laned(stream)) {
            return laneReader.read(stream, group, max, Math.min(block.toMillis(), blockTimeout.toMillis()),
                    List.of());
        }
        return reader.read(stream, group, max, Math.min(block.toMillis(), blockTimeout.toMillis()));
    }

    /** The acks go in the read's round trip (XACK and XREADGROUP pipelined) when the read is a plain XREADGROUP. */
    @Override
    protected List<Message> doAckAndRead(String stream, String group, List<String> ids, int max, Duration block) {
        PartitionedGroup partitioned = partitioned(stream, group);
        if (partitioned != null) {
            return partitioned.read(max, block.isZero() ? 0L : Math.min(block.toMillis(), blockTimeout.toMillis()),
                    ids);
        }
        if (lanes.laned(stream)) {
            return laneReader.read(stream, group, max,
                    block.isZero() ? 0L : Math.min(block.toMillis(), blockTimeout.toMillis()), ids);
        }
        return reader.read(stream, group, max,
                block.isZero() ? 0L : Math.min(block.toMillis(), blockTimeout.toMillis()), ids);
    }

    // Acknowledging and rejecting

    @Override
    protected boolean doAck(String stream, String id, String group) {
        PartitionedGroup partitioned = partitioned(stream, group);
        if (partitioned != null) {
            return partitioned.ack(id);
        }
        if (lanes.laned(stream)) {
            PriorityLanes.Entry entry = laneReader.resolve(stream, id);
            return reader.ack(entry.stream(), entry.id(), group);
        }
        return reader.ack(stream, id, group);
    }

    @Override
    protected int doAckAll(String stream, List<String> ids, String group) {
        PartitionedGroup partitioned = partitioned(stream, group);
        if (partitioned != null) {
            return partitioned.ackAll(ids);
        }
        if (lanes.laned(stream)) {
            return laneReader.ackAll(stream, ids, group);
        }
        return reader.ackAll(stream, ids, group);
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
        PartitionedGroup partitioned = partitioned(stream, group);
        if (partitioned != null) {
            return partitioned.nack(id);
        }
        if (lanes.laned(stream)) {
            PriorityLanes.Entry entry = laneReader.resolve(stream, id);
            return recovery.nack(entry.stream(), entry.id(), group);
        }
        return recovery.nack(stream, id, group);
    }

    @Override
    protected int doHandOver(String stream, String group, String to) {
        int moved = recovery.handOver(stream, group, to);
        return lanes.laned(stream) ? moved + recovery.handOver(lanes.lane(stream), group, to) : moved;
    }

    // Dead letters

    @Override
    protected boolean doMoveToDeadLetters(String stream, String id, String group, String reason) {
        PartitionedGroup partitioned = partitioned(stream, group);
        if (partitioned != null) {
            return partitioned.moveToDeadLetters(id, reason);
        }
        if (lanes.laned(stream)) {
            // A lane's entry goes to the lane's dead letters, <stream>:<suffix>:dlq, as Protean writes them.
            PriorityLanes.Entry lane = laneReader.resolve(stream, id);
            stream = lane.stream();
            id = lane.id();
        }
        StreamEntryID entryId = StreamEntries.parseId(id);
        StreamPendingEntry entry = entryId == null ? null : recovery.heldEntry(stream, group, entryId);
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
        partitions.close();
        reader.close();
        connection.close();
    }
}

