package dev.courier.redis;

import dev.courier.internal.JsonCodec;
import redis.clients.jedis.Transaction;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The categories of a broker that are partitioned by key, as Protean lays them out: a message goes to the stream
 * {@code <category>:<key>} and its key into the set {@code <category>:__partitions__}, both in one MULTI/EXEC so that
 * a reaper never sees the stream without its index entry. Nothing is written to the base stream {@code <category>}.
 * Also keeps each consumer group's {@link PartitionedGroup}.
 */
final class PartitionedStreams implements AutoCloseable {

    static final String INDEX_SUFFIX = ":__partitions__";

    private final RedisConnection connection;
    /** Category to key field. */
    private final Map<String, String> keyFields = new ConcurrentHashMap<>();
    private final Map<String, PartitionedGroup> groups = new ConcurrentHashMap<>();

    PartitionedStreams(RedisConnection connection, Map<String, String> keyFields) {
        this.connection = connection;
        keyFields.forEach(this::partitionBy);
    }

    static String stream(String category, String key) {
        return category + ":" + key;
    }

    static String index(String category) {
        return category + INDEX_SUFFIX;
    }

    /**
     * The set of Courier groups that consume the category ({@code __groups__} cannot be a key, being of the
     * {@code __x__} form): a reap waits until each has a group on the stream, and has finished it.
     */
    static String courierGroups(String category) {
        return category + ":__groups__";
    }

    void partitionBy(String category, String keyField) {
        if (category == null || category.isBlank() || keyField == null || keyField.isBlank()) {
            throw new IllegalArgumentException("partitioning needs a stream and a key field, got stream '" + category
                    + "' and field '" + keyField + "'");
        }
        String before = keyFields.putIfAbsent(category, keyField);
        if (before != null && !before.equals(keyField)) {
            throw new IllegalArgumentException("stream '" + category + "' is partitioned by field '" + before
                    + "' already, not '" + keyField + "': a category has one key field");
        }
    }

    boolean isPartitioned(String category) {
        return keyFields.containsKey(category);
    }

    /** The key of a message's JSON for a partitioned category; refused as {@link PartitionKey#of} says. */
    String keyOf(String category, String json) {
        return PartitionKey.of(category, keyFields.get(category), JsonCodec.parse(json));
    }

    /**
     * {@code SADD <category>:__partitions__ <key>} and {@code XADD <category>:<key> * data <json>} in one MULTI/EXEC,
     * written at most once ({@link RedisConnection#write}). On a Redis Cluster the two keys are in different slots
     * (Protean's names have no hash tag) and a transaction cannot span them: see README, Partitioned streams.
     *
     * @return the entry's id
     */
    String publish(String category, String key, Map<byte[], byte[]> entry) {
        String stream = stream(category, key);
        return connection.write("SADD + XADD (partition)", List.of(stream, index(category)), c -> {
            try (Transaction multi = new Transaction(c, true, false)) {
                multi.sadd(index(category), key);
                multi.xadd(stream.getBytes(java.nio.charset.StandardCharsets.UTF_8), StreamEntries.XADD, entry);
                List<Object> replies = multi.exec();
                if (replies == null) {
                    throw new redis.clients.jedis.exceptions.JedisDataException("EXEC aborted");
                }
                for (Object reply : replies) {
                    if (reply instanceof Exception refused) {
                        throw refused instanceof redis.clients.jedis.exceptions.JedisException j ? j
                                : new redis.clients.jedis.exceptions.JedisDataException(refused.getMessage());
                    }
                }
                Object id = replies.get(1);
                return id instanceof byte[] bytes ? StreamEntries.utf8(bytes) : String.valueOf(id);
            }
        });
    }

    /** The group's consumer on a partitioned category, made on its first use. */
    PartitionedGroup group(String category, String group, java.util.function.BiFunction<String, String,
            PartitionedGroup> factory) {
        return groups.computeIfAbsent(category + "\n" + group, k -> factory.apply(category, group));
    }

    /** The group's consumer if this instance made one (it reads the category), else null; never makes one. */
    PartitionedGroup existing(String category, String group) {
        return groups.get(category + "\n" + group);
    }

    /** How many keys the groups of this instance hold halted on a poison message. */
    int haltedKeys() {
        int halted = 0;
        for (PartitionedGroup group : groups.values()) {
            halted += group.halted().size();
        }
        return halted;
    }

    /** Gives back every lease held (compare-and-delete), so that other instances take the keys at once. */
    @Override
    public void close() {
        groups.values().forEach(PartitionedGroup::close);
        groups.clear();
    }
}
