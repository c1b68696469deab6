package dev.courier.redis;

import dev.courier.Message;
import dev.courier.redis.RedisConnection.RedisReplyException;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.util.SafeEncoder;

import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads a group for this consumer and acknowledges what it handled. A read gives first what the pending entries list
 * owes (this consumer's left-over entries, entries of crashed consumers, retries that are due; see
 * {@link PendingRecovery}), then new entries (XREADGROUP {@code >}), with the acks of the last batch in the same
 * round trip when nothing else comes first.
 *
 * <p>The at-least-once rule it keeps: an entry read stays in the group's pending entries list until it is
 * acknowledged; one that is not a message is dead-lettered ({@link Delivery}), never dropped; and a lost connection
 * makes the next read deliver again what this consumer held, not wait for {@code message-timeout}.
 */
final class GroupReader {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");

    private static final byte[] UNDELIVERED = SafeEncoder.encode(">");

    private final String name;
    private final RedisConnection connection;
    private final byte[] consumerKey;
    private final ConsumerGroups groups;
    private final PendingRecovery recovery;
    private final Delivery delivery;
    private final ReadAhead ahead;

    GroupReader(String name, RedisConnection connection, String consumer, ConsumerGroups groups,
                PendingRecovery recovery, Delivery delivery) {
        this.name = name;
        this.connection = connection;
        this.consumerKey = SafeEncoder.encode(consumer);
        this.groups = groups;
        this.recovery = recovery;
        this.delivery = delivery;
        this.ahead = new ReadAhead(connection, consumerKey, delivery, this);
    }

    /**
     * Lets the group's reads go ahead by up to {@code most} messages under a backlog (0: none from now on), handing
     * out nothing that was in flight for longer than {@code stale} (see ReadAhead).
     */
    void readAhead(String stream, String group, int most, java.time.Duration stale) {
        ahead.allow(groups.state(stream, group), most, stale);
    }

    /** Ends the group's read ahead: what is in flight stays pending, to be delivered again. */
    void endReadAhead(String stream, String group) {
        ahead.end(groups.state(stream, group));
    }

    /** Whether the group's next read is a plain XREADGROUP: no failure to recover from, nothing of the PEL due. */
    boolean quiet(GroupState g) {
        long now = System.currentTimeMillis();
        return connection.failures() == g.seenFailures && g.leftoverCursor == null && !recovery.reclaimDue(g, now)
                && now < g.nextRetryCheckAt();
    }

    /** Reads what is in flight, leaving it pending; before the connection closes. */
    void close() {
        ahead.close();
    }

    List<Message> read(String stream, String group, int max, long blockMs) {
        return read(stream, group, max, blockMs, List.of());
    }

    /**
     * Up to {@code max} messages of the group for this consumer, waiting up to {@code blockMs} for new entries when
     * there is nothing else to give; {@code acks} are acknowledged first, in the same round trip when they can be.
     */
    List<Message> read(String stream, String group, int max, long blockMs, List<String> acks) {
        GroupState g = groups.state(stream, group);
        groups.ensure(g);
        List<Message> out = new ArrayList<>(Math.min(max, 16));
        // What was read ahead comes first: Redis delivered it before anything this read could ask for.
        if (ahead.deliver(g, max, acks, out)) {
            return out;
        }
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
        if (!acks.isEmpty() && (g.leftoverCursor != null || recovery.reclaimDue(g, now)
                || now >= g.nextRetryCheckAt())) {
            // Other commands come first: the acks go on their own, before them.
            ackAll(stream, acks, group);
            acks = List.of();
        }
        if (g.leftoverCursor != null) {
            recovery.leftovers(g, out, max, now);
        }
        if (out.size() < max && recovery.reclaimDue(g, now)) {
            recovery.reclaim(g, out, max, now);
        }
        if (out.size() < max && now >= g.nextRetryCheckAt()) {
            recovery.retries(g, out, max, now);
        }
        if (out.size() < max) {
            // Block only when there is nothing to give, and not past the next retry that is due.
            long block = out.isEmpty() ? Math.min(blockMs, g.nextRetryCheckAt() - now) : 0;
            readNew(g, out, max - out.size(), block, acks);
        } else if (!acks.isEmpty()) {
            ackAll(stream, acks, group);
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
                    name, g.group, g.stream);
            g.created = false;
            groups.ensure(g);
            result = xreadgroup(g, params, key, blockMs >= 1);
        }
        if (result == null) {
            return;
        }
        ahead.afterRead(g, result, count, count + out.size());
        // [[stream, [[id, [field, value, ...]], ...]]]
        for (Object streamReply : result) {
            for (Object item : StreamEntries.castList(StreamEntries.castList(streamReply).get(1))) {
                delivery.first(g, StreamEntries.castList(item), out);
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
        // On the stream's master: both commands name the stream, so they share its node on a cluster too.
        return connection.executeOn("XACK + XREADGROUP", g.streamKey, blocking, c -> {
            try (Pipeline pipeline = new Pipeline(c)) {
                Response<Long> acked = pipeline.xack(g.streamKey, g.groupKey, ids);
                Response<List<Object>> read = pipeline.xreadGroup(g.groupKey, consumerKey, params, key);
                pipeline.sync();
                acked.get();
                return read.get();
            }
        });
    }

    /** The ids that are stream entry ids, as bytes; {@code null} when none is. */
    static byte[][] entryIds(List<String> ids) {
        List<byte[]> entryIds = new ArrayList<>(ids.size());
        for (String id : ids) {
            // One malformed id would fail the whole command: it cannot be pending anyway.
            if (RedisBroker.isEntryId(id)) {
                entryIds.add(id.getBytes(StandardCharsets.US_ASCII));
            }
        }
        return entryIds.isEmpty() ? null : entryIds.toArray(new byte[0][]);
    }

    boolean ack(String stream, String id, String group) {
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
    int ackAll(String stream, List<String> ids, String group) {
        byte[][] array = entryIds(ids);
        if (array == null) {
            return 0;
        }
        byte[] key = stream.getBytes(StandardCharsets.UTF_8);
        byte[] groupName = group.getBytes(StandardCharsets.UTF_8);
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
}
