package dev.courier.redis;

import dev.courier.redis.RedisConnection.RedisReplyException;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.resps.StreamGroupInfo;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The consumer groups and streams one broker object knows: it creates a group on first use (XGROUP CREATE ... 0
 * MKSTREAM, so a new group gets every entry already in the stream), moves one for a replay (XGROUP SETID), and keeps
 * each group's {@link GroupState}. The streams it has published to or read are the ones maintenance and health look
 * at.
 */
final class ConsumerGroups {

    private final RedisConnection connection;
    private final Map<String, Map<String, GroupState>> groups = new ConcurrentHashMap<>();
    private final Set<String> streams = ConcurrentHashMap.newKeySet();
    private final Set<String> streamsView = Collections.unmodifiableSet(streams);
    /** Entries of this consumer name idle since before this are left over from an earlier run of the instance. */
    private final long createdAt = System.currentTimeMillis();

    ConsumerGroups(RedisConnection connection) {
        this.connection = connection;
    }

    GroupState state(String stream, String group) {
        return groups.computeIfAbsent(stream, s -> new ConcurrentHashMap<>())
                .computeIfAbsent(group, g -> {
                    GroupState state = new GroupState(stream, g);
                    state.leftoverSince = createdAt;
                    state.seenFailures = connection.failures();
                    return state;
                });
    }

    /** XGROUP CREATE stream group 0 MKSTREAM, once; BUSYGROUP (another creator was first) is success. */
    void ensure(GroupState g) {
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

    /** XGROUP SETID to {@code before}, so that the group is given the entry after it next; creates the group. */
    void setId(String stream, String group, String before) {
        GroupState g = state(stream, group);
        try {
            // The stream as the sample key: on a cluster, the command goes to its slot's master.
            connection.execute("XGROUP SETID", j -> j.sendCommand(stream, Protocol.Command.XGROUP, "SETID", stream,
                    group, before));
        } catch (RedisReplyException e) {
            if (!e.is("NOGROUP")) {
                throw e;
            }
            connection.execute("XGROUP CREATE", j -> j.sendCommand(stream, Protocol.Command.XGROUP, "CREATE",
                    stream, group, before, "MKSTREAM"));
        }
        g.created = true;
        streams.add(stream);
    }

    /** A stream published to. */
    void add(String stream) {
        streams.add(stream);
    }

    /** The streams published to or read, as they are now. */
    Set<String> streams() {
        return streamsView;
    }

    /** XINFO GROUPS of the stream; none when there is no such stream. */
    List<StreamGroupInfo> infos(String stream) {
        try {
            return connection.execute("XINFO GROUPS", j -> j.xinfoGroups(stream));
        } catch (RedisReplyException e) {
            return List.of(); // no such key
        }
    }
}
