package dev.courier.redis;

import dev.courier.BrokerCapability;
import dev.courier.BrokerException;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.redis.RedisConnection.LuaScript;
import dev.courier.redis.RedisConnection.RedisReplyException;
import dev.courier.spi.AbstractBroker;
import dev.courier.internal.JsonCodec;
import redis.clients.jedis.CommandObjects;

import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Simple queuing on Redis lists, in Protean's wire format: {@code RPUSH <stream> [id, message]} (a JSON array), and
 * each group's position, the index of the next item to read, in {@code position:<stream>:<group>}. Groups are
 * recorded in the set {@code consumer_groups:<stream>} so that every instance and the health data see them.
 *
 * <p>A read takes the next items and moves the group's position past them in one Lua script, so any number of
 * consumers of one group, in one process or many, never get the same item twice and never skip one. There is no
 * acknowledgement: an item read is done (at most once).
 */
final class RedisListBroker extends AbstractBroker {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");
    /** Builds RPUSH commands; holds no state of a connection. */
    private static final CommandObjects COMMANDS = new CommandObjects();

    static final Set<BrokerCapability> CAPABILITIES = EnumSet.of(
            BrokerCapability.PUBLISH, BrokerCapability.SUBSCRIBE, BrokerCapability.CONSUMER_GROUPS);

    static final String POSITION_PREFIX = "position:";
    static final String GROUPS_PREFIX = "consumer_groups:";

    /** KEYS: list, position, groups set. ARGV: count, group. Returns the items read, position moved past them. */
    private static final LuaScript READ = LuaScript.of("""
            redis.call('SADD', KEYS[3], ARGV[2])
            local position = tonumber(redis.call('GET', KEYS[2]) or '0')
            local items = redis.call('LRANGE', KEYS[1], position, position + tonumber(ARGV[1]) - 1)
            if #items > 0 then
              redis.call('INCRBY', KEYS[2], #items)
            end
            return items
            """);

    /**
     * KEYS: list, groups set. ARGV: position key prefix, max length. Removes items from the head, but only those
     * every group has read, and moves each group's position back by as many. Returns how many were removed.
     */
    private static final LuaScript TRIM = LuaScript.of("""
            local groups = redis.call('SMEMBERS', KEYS[2])
            if #groups == 0 then
              return 0
            end
            local cut = redis.call('LLEN', KEYS[1]) - tonumber(ARGV[2])
            for _, group in ipairs(groups) do
              local position = tonumber(redis.call('GET', ARGV[1] .. group) or '0')
              if position < cut then
                cut = position
              end
            end
            if cut <= 0 then
              return 0
            end
            redis.call('LTRIM', KEYS[1], cut, -1)
            for _, group in ipairs(groups) do
              redis.call('DECRBY', ARGV[1] .. group, cut)
            end
            return cut
            """);

    private final RedisConnection connection;
    private final long maxLength;
    private final Set<String> streams = ConcurrentHashMap.newKeySet();
    private final Map<String, AtomicLong> publishedSinceTrim = new ConcurrentHashMap<>();
    private final LongAdder published = new LongAdder();
    private final LongAdder malformed = new LongAdder();

    /** An item holds the message and its id ({@code ["<id>",<message>]}): room for the id beside max-message-size. */
    static final int ITEM_OVERHEAD = 256;

    RedisListBroker(String name, RedisConnection connection, long maxLength, long maxMessageSize) {
        super(name, RedisPubSubBrokerProvider.NAME, CAPABILITIES, maxMessageSize);
        this.connection = connection;
        this.maxLength = maxLength;
    }

    @Override
    protected String doPublish(String stream, Map<String, Object> payload) {
        if (maxLength > 0) {
            requireOneSlot(stream, "trimmed");
        }
        String id = UUID.randomUUID().toString();
        connection.write("RPUSH", List.of(stream), c -> c.executeCommand(COMMANDS.rpush(stream, item(id, payload))));
        afterPublish(stream, 1);
        return id;
    }

    @Override
    protected List<String> doPublishAll(String stream, List<Map<String, Object>> payloads) {
        if (maxLength > 0) {
            requireOneSlot(stream, "trimmed");
        }
        List<String> ids = new ArrayList<>(payloads.size());
        String[] items = new String[payloads.size()];
        for (int i = 0; i < items.length; i++) {
            String id = UUID.randomUUID().toString();
            ids.add(id);
            items[i] = item(id, payloads.get(i));
        }
        // One atomic command.
        connection.write("RPUSH", List.of(stream), c -> c.executeCommand(COMMANDS.rpush(stream, items)));
        afterPublish(stream, items.length);
        return ids;
    }

    /** Protean's item: a JSON array of the id and the message. */
    private static String item(String id, Map<String, Object> payload) {
        return JsonCodec.writeValue(List.of(id, payload));
    }

    private void afterPublish(String stream, int count) {
        published.add(count);
        streams.add(stream);
        if (maxLength > 0) {
            AtomicLong since = publishedSinceTrim.computeIfAbsent(stream, s -> new AtomicLong());
            // Trim every tenth of max-length publishes: often enough to bound the list, rarely enough to be cheap.
            if (since.addAndGet(count) >= Math.max(1, maxLength / 10)) {
                since.set(0);
                doTrim(stream, maxLength);
            }
        }
    }

    @Override
    protected List<Message> doRead(String stream, String group, int max) {
        requireOneSlot(stream, "read");
        streams.add(stream);
        Object reply = connection.eval("LRANGE", READ,
                List.of(stream, positionKey(stream, group), GROUPS_PREFIX + stream),
                List.of(Integer.toString(max), group));
        List<?> items = (List<?>) reply;
        List<Message> messages = new ArrayList<>(items.size());
        for (Object item : items) {
            long size = size(item, maxMessageSize() + ITEM_OVERHEAD);
            if (size > maxMessageSize() + ITEM_OVERHEAD) {
                malformed.increment();
                LOG.log(Level.WARNING, "broker ''{0}'': skipped an item of list ''{1}'' of {2} bytes or more, more "
                        + "than max-message-size ({3} bytes) allows; not parsed", name(), stream, size,
                        maxMessageSize());
                continue;
            }
            String text = item instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : (String) item;
            Message message = parse(stream, text);
            if (message != null) {
                messages.add(message);
            }
        }
        return messages;
    }

    /**
     * An item's size in bytes, or a lower bound of it: counted only if that tells whether it is over the limit (a
     * character takes 1 to 3 bytes in UTF-8).
     */
    private static long size(Object item, long limit) {
        if (item instanceof byte[] bytes) {
            return bytes.length;
        }
        String text = (String) item;
        return text.length() <= limit && text.length() * 3L > limit ? text.getBytes(StandardCharsets.UTF_8).length
                : text.length();
    }

    /** The message an item holds, or {@code null} (counted and logged) when it is not {@code [id, {...}]}. */
    private Message parse(String stream, String item) {
        try {
            if (JsonCodec.parseValue(item) instanceof List<?> pair && pair.size() == 2
                    && pair.get(0) instanceof String id && !id.isBlank()
                    && pair.get(1) instanceof Map<?, ?> map && !map.isEmpty()) {
                @SuppressWarnings("unchecked")
                Map<String, Object> payload = (Map<String, Object>) map;
                return new Message(id, stream, payload, 1);
            }
        } catch (IllegalArgumentException e) {
            // not JSON: reported below
        }
        malformed.increment();
        LOG.log(Level.WARNING, "broker ''{0}'': skipped an item of list ''{1}'' that is not [id, message] JSON "
                + "({2} characters)", name(), stream, item.length());
        return null;
    }

    @Override
    protected long doTrim(String stream, long maxLength) {
        requireOneSlot(stream, "trimmed");
        Object removed = connection.eval("LTRIM", TRIM, List.of(stream, GROUPS_PREFIX + stream),
                List.of(POSITION_PREFIX + stream + ":", Long.toString(maxLength)));
        return removed instanceof Long n ? n : 0;
    }

    /**
     * On a Redis Cluster, refuses a stream whose list, positions and groups set are in different slots: the scripts
     * that read and trim must touch them together, and Protean's key names cannot change. A hash tag in the stream's
     * name ({@code {orders}}) puts them all in its slot.
     */
    private void requireOneSlot(String stream, String what) {
        if (!connection.oneSlot(stream, POSITION_PREFIX + stream + ":", GROUPS_PREFIX + stream)) {
            throw new BrokerException("broker '" + name() + "': list '" + stream + "' cannot be " + what + " on a "
                    + "Redis Cluster: a read moves the group's position (" + POSITION_PREFIX + stream + ":<group>) "
                    + "and a trim cuts the list in one script, and Redis keeps keys in one slot only when they share a "
                    + "hash tag. Name the stream with one, such as '{" + stream + "}', or use one Redis or Sentinel");
        }
    }

    static String positionKey(String stream, String group) {
        return POSITION_PREFIX + stream + ":" + group;
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
        RedisConnection.ServerHealth server = connection.probe(details);
        // Before the lists: while a slot has no master, LLEN on its lists would wait out the failover.
        HealthStats.Status topology = TopologyHealth.into(connection, streams, details);
        HealthStats.Status status = TopologyHealth.worse(server.status(), topology);
        if (server.connected() && topology != HealthStats.Status.UNHEALTHY) {
            try {
                details.put("streams", streamInfo());
            } catch (dev.courier.BrokerException e) {
                status = HealthStats.Status.DEGRADED;
                details.put("reason", e instanceof RedisReplyException reply ? reply.reply() : "LLEN failed");
            }
        }
        details.put("malformed_skipped", malformed.sum());
        details.values().removeIf(java.util.Objects::isNull);
        return new HealthStats(status, server.connected(), connection.lastPong(), uptime(),
                new HealthStats.MessageCounts(published.sum(), 0, 0, 0), details);
    }

    @Override
    public Map<String, Object> info() {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("name", name());
        info.put("provider", provider());
        info.put("uri", connection.describe());
        try {
            Map<String, String> server = connection.serverInfo();
            info.put("redis_version", server.getOrDefault("redis_version", ""));
            info.put("role", server.getOrDefault("role", ""));
            info.put("used_memory", RedisConnection.parseLong(server.get("used_memory")));
            info.put("connected_clients", RedisConnection.parseLong(server.get("connected_clients")));
            info.put("streams", streamInfo());
        } catch (dev.courier.BrokerException e) {
            info.put("error", e.getMessage());
        }
        info.put("malformed_skipped", malformed.sum());
        return info;
    }

    /** Per stream this broker has used: its length, and each recorded group's position and lag. */
    private Map<String, Object> streamInfo() {
        Map<String, Object> result = new TreeMap<>();
        for (String stream : streams) {
            long length = connection.execute("LLEN", j -> j.llen(stream));
            Map<String, Object> groups = new TreeMap<>();
            for (String group : connection.execute("SMEMBERS", j -> j.smembers(GROUPS_PREFIX + stream))) {
                long position = RedisConnection.parseLong(connection.execute("GET",
                        j -> j.get(positionKey(stream, group))));
                groups.put(group, Map.of("position", position, "lag", Math.max(0, length - position)));
            }
            result.put(stream, Map.of("length", length, "groups", groups));
        }
        return result;
    }

    @Override
    public void close() {
        connection.close();
    }
}
