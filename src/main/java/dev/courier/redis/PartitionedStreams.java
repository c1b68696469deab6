package dev.courier.redis;

import redis.clients.jedis.Connection;
import redis.clients.jedis.Transaction;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
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
    private final Map<GroupKey, PartitionedGroup> groups = new ConcurrentHashMap<>();

    /** A group of a category: its hash is its names' (cached in them), with no string made per lookup. */
    private record GroupKey(String category, String group) {
    }

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

    /**
     * The key of a message for a partitioned category, read from its fields (the map it was written from, so its
     * JSON is not parsed again); refused as {@link PartitionKey#of} says.
     */
    String keyOf(String category, Map<String, ?> fields) {
        return PartitionKey.of(category, keyFields.get(category), fields);
    }

    /**
     * {@code SADD <category>:__partitions__ <key>} and {@code XADD <stream> * data <json>} in one MULTI/EXEC, the
     * stream being {@code <category>:<key>} or its backfill lane {@code <category>:<key>:<suffix>},
     * written at most once ({@link RedisConnection#write}). On a Redis Cluster the two keys are in different slots
     * (Protean's names have no hash tag) and a transaction cannot span them: see README, Partitioned streams.
     *
     * @return the entry's id
     */
    String publish(String category, String key, String stream, Map<byte[], byte[]> entry) {
        return connection.write("SADD + XADD (partition)", List.of(stream, index(category)), c -> {
            Object reply = transaction(c, category, List.of(key), List.of(stream), List.of(entry)).get(0);
            if (reply instanceof JedisException refused) {
                throw refused; // inside the write, which turns it into Courier's exception
            }
            return (String) reply;
        });
    }

    /**
     * {@link #publish}'s SADD and XADD for each message, in order, all in one MULTI/EXEC: one round trip, and a
     * reaper never sees one of the streams without its index entry.
     *
     * @return for each message its entry id, or the error reply ({@link JedisDataException}) that refused its XADD
     *         or its SADD (then it counts as refused, as {@link #publish} reports it, though its entry may be stored)
     */
    List<Object> publishAll(String category, List<String> keys, List<String> streams,
                            List<Map<byte[], byte[]>> entries) {
        return connection.write("SADD + XADD (partition, publishAll)",
                List.of(streams.get(0), index(category)), c -> transaction(c, category, keys, streams, entries));
    }

    /** @param streams each message's stream: its key's, {@code <category>:<key>}, or that stream's backfill lane */
    private static List<Object> transaction(Connection c, String category, List<String> keys, List<String> streams,
                                            List<Map<byte[], byte[]>> entries) {
        String index = index(category);
        try (Transaction multi = new Transaction(c, true, false)) {
            for (int i = 0; i < keys.size(); i++) {
                multi.sadd(index, keys.get(i));
                multi.xadd(streams.get(i).getBytes(StandardCharsets.UTF_8), StreamEntries.XADD,
                        entries.get(i));
            }
            List<Object> replies = multi.exec();
            if (replies == null) {
                throw new JedisDataException("EXEC aborted");
            }
            List<Object> result = new ArrayList<>(keys.size());
            for (int i = 0; i < replies.size(); i += 2) {
                Object refused = refusal(replies.get(i));
                refused = refused != null ? refused : refusal(replies.get(i + 1));
                result.add(refused != null ? refused : replies.get(i + 1) instanceof byte[] id
                        ? StreamEntries.utf8(id) : String.valueOf(replies.get(i + 1)));
            }
            return result;
        }
    }

    /** The error a reply inside EXEC's answer is, as a JedisDataException; null when it is not one. */
    private static JedisDataException refusal(Object reply) {
        if (reply instanceof JedisDataException refused) {
            return refused;
        }
        return reply instanceof Exception other ? new JedisDataException(other.getMessage(), other) : null;
    }

    /** The group's consumer on a partitioned category, made on its first use. */
    PartitionedGroup group(String category, String group, java.util.function.BiFunction<String, String,
            PartitionedGroup> factory) {
        return groups.computeIfAbsent(new GroupKey(category, group), k -> factory.apply(category, group));
    }

    /** The group's consumer if this instance made one (it reads the category), else null; never makes one. */
    PartitionedGroup existing(String category, String group) {
        return groups.get(new GroupKey(category, group));
    }

    /** How many keys the groups of this instance hold halted on a poison message. */
    int haltedKeys() {
        int halted = 0;
        for (PartitionedGroup group : groups.values()) {
            halted += group.halted().size();
        }
        return halted;
    }

    /**
     * How many keys the groups this instance consumes hold halted in any instance (their shared records,
     * {@link SharedHalts#count}); -1 when it consumes no partitioned stream.
     */
    int sharedHaltedKeys() {
        if (groups.isEmpty()) {
            return -1;
        }
        int halted = 0;
        java.util.Set<String> names = new java.util.TreeSet<>(); // one hash per group, whatever the categories
        groups.values().forEach(g -> names.add(g.group()));
        for (String name : names) {
            halted += new SharedHalts(connection, name).count();
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
