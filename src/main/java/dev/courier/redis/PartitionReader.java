package dev.courier.redis;

import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.internal.JsonCodec;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XReadParams;
import redis.clients.jedis.resps.StreamEntry;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Reads the owned keys into their buffers and hands messages out, at most one per key in flight: one fenced-read
 * script takes entries under each key's token (own pending ones first after an acquisition), and one blocking XREAD
 * over the idle owned streams wakes on new entries, so that idle keys cost no polling.
 */
final class PartitionReader {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");
    /** Entries read per key at once; handed out one at a time, so the key's order holds. */
    private static final int PREFETCH = 16;

    private final String brokerName;
    private final String category;
    private final String group;
    private final RedisConnection connection;
    private final PartitionLeases leases;
    private final OwnedKeys owned;
    private final KeyDiscovery discovery;
    private final DeadLetterQueue deadLetters;
    private final ConsumerGroups groups;
    private volatile boolean several;

    PartitionReader(String brokerName, String category, String group, RedisConnection connection,
                    PartitionLeases leases, OwnedKeys owned, KeyDiscovery discovery, DeadLetterQueue deadLetters,
                    ConsumerGroups groups) {
        this.brokerName = brokerName;
        this.category = category;
        this.group = group;
        this.connection = connection;
        this.leases = leases;
        this.owned = owned;
        this.discovery = discovery;
        this.deadLetters = deadLetters;
        this.groups = groups;
    }

    /** A message's id: the key and the entry id (a key has no colon, an entry id neither). */
    static String messageId(String key, String entryId) {
        return key + ":" + entryId;
    }

    /** Hands out up to {@code max} messages, reading more where a key's buffer is empty, waiting up to blockMs. */
    List<Message> read(int max, long blockMs) {
        List<Message> out = handOut(max);
        if (!out.isEmpty()) {
            return out;
        }
        List<String> pending = keys(o -> o.pendingNext, max);
        if (!pending.isEmpty()) {
            fencedRead(pending, true);
        }
        // Keys known to have entries are read at once: a busy partition costs one script per batch, no XREAD.
        List<String> ready = keys(o -> o.ready && !o.pendingNext, max);
        if (!ready.isEmpty()) {
            fencedRead(ready, false);
        }
        out = handOut(max);
        if (!out.isEmpty() || !pending.isEmpty()) {
            return out;
        }
        Map<String, StreamEntryID> idle = idleStreams();
        if (idle.isEmpty()) {
            if (blockMs > 0) {
                owned.await(blockMs);
            }
            return handOut(max);
        }
        XReadParams params = XReadParams.xReadParams().count(1);
        if (blockMs > 0) {
            params.block((int) Math.min(Integer.MAX_VALUE, blockMs));
        }
        List<Map.Entry<String, List<StreamEntry>>> woken = blockMs > 0
                ? connection.executeBlocking("XREAD (partitions)", j -> j.xread(params, idle))
                : connection.execute("XREAD (partitions)", j -> j.xread(params, idle));
        if (woken == null || woken.isEmpty()) {
            return handOut(max);
        }
        List<String> keys = new ArrayList<>(woken.size());
        int prefix = category.length() + 1;
        synchronized (owned) {
            for (Map.Entry<String, List<StreamEntry>> stream : woken) {
                String key = stream.getKey().substring(prefix);
                OwnedKey o = owned.get(key);
                if (o != null) {
                    o.ready = true; // those beyond max are read next time, without waiting
                    if (keys.size() < max) {
                        keys.add(key);
                    }
                }
            }
        }
        fencedRead(keys, false);
        return handOut(max);
    }

    /** Up to max owned keys, not halted, with an empty buffer, that {@code which} picks. */
    private List<String> keys(Predicate<OwnedKey> which, int max) {
        List<String> keys = new ArrayList<>();
        synchronized (owned) {
            for (OwnedKey o : owned.values()) {
                if (keys.size() == max) {
                    break;
                }
                if (!o.halted && o.buffer.isEmpty() && which.test(o)) {
                    keys.add(o.key);
                }
            }
        }
        return keys;
    }

    /**
     * The next messages of the keys, while each key's lease is surely this instance's: a head whose retry delay is
     * over, then the buffered ones, one per key with none out or, where the loop keeps a key's messages in order
     * ({@link #handOutSeveral}), all of them.
     */
    private List<Message> handOut(int max) {
        List<Message> out = new ArrayList<>();
        long nanos = System.nanoTime();
        long millis = System.currentTimeMillis();
        boolean several = this.several;
        synchronized (owned) {
            // Heads due for their retry first: the loop may be waiting for them, its window full behind them. A
            // loop that keeps order takes them back in their places, not as new ones: beyond max.
            for (OwnedKey o : owned.values()) {
                if (out.size() == max && !several) {
                    return out;
                }
                if (o.retrying && o.retryAt <= millis && !o.halted && nanos - o.validUntil < 0) {
                    Message failed = o.failing;
                    Message again = new Message(failed.id(), failed.stream(), failed.payload(), o.attempts + 1,
                            failed.traceContext());
                    o.replace(failed, again);
                    o.failing = again;
                    o.retrying = false;
                    o.lastActive = nanos;
                    out.add(again);
                }
            }
            int limit = several ? out.size() + max : max;
            // A quarter of a read per key at most, so that the loop holds several keys, not one key's backlog.
            int perKey = several ? Math.max(1, max / 4) : 1;
            for (OwnedKey o : owned.values()) {
                if (out.size() >= limit) {
                    break;
                }
                if (o.halted || o.buffer.isEmpty() || o.releaseWhenSettled || nanos - o.validUntil >= 0) {
                    continue; // a surplus key hands out nothing more, so that it reaches a boundary and goes
                }
                // One at a time: only when nothing of the key is out (a retry waits here, first).
                int given = 0;
                while (out.size() < limit && given++ < perKey && !o.buffer.isEmpty()
                        && (several || o.out.isEmpty())) {
                    Message m = o.buffer.poll();
                    o.out.add(m);
                    o.lastActive = nanos;
                    out.add(m);
                }
            }
        }
        return out;
    }

    /**
     * The loop keeps each key's messages in order through retries (by their stream, the key's): from now on, a
     * key's buffered messages are handed out together, so that their acks share one fenced XACK; a handler may start
     * on one only while {@link #mayStart} says so. Not under {@code halt}: a halted key's later messages must not
     * run, and Protean's rule for a shared group is one message in flight.
     */
    void handOutSeveral() {
        several = true;
    }

    /**
     * Whether a handler may start on a message handed out: it is still out on the key's current lease, and the lease
     * is surely still this instance's (four fifths of a TTL after the last renewal sent). If not, the key is dropped
     * (its lease may have moved or be lapsing): the loop leaves this message and the key's later ones, and the next
     * owner, which reclaims them, hands them out again.
     */
    boolean mayStart(Message message) {
        String key = message.stream().substring(category.length() + 1);
        synchronized (owned) {
            OwnedKey o = owned.get(key);
            if (o == null) {
                return false;
            }
            if (!o.isOut(message)) {
                return false;
            }
            if (System.nanoTime() - o.validUntil < 0) {
                return true;
            }
            LOG.log(Level.WARNING, "broker ''{0}'': key ''{1}'' of stream ''{2}'' dropped by group ''{3}'': its lease "
                    + "was not renewed in time, so no handler starts on it here", brokerName, key, category, group);
            owned.drop(key);
            return false;
        }
    }

    /** Owned keys with an empty buffer and nothing waiting, for the blocking XREAD. */
    private Map<String, StreamEntryID> idleStreams() {
        Map<String, StreamEntryID> idle = new LinkedHashMap<>();
        synchronized (owned) {
            for (OwnedKey o : owned.values()) {
                if (!o.halted && !o.pendingNext && o.buffer.isEmpty()) {
                    idle.put(PartitionedStreams.stream(category, o.key), new StreamEntryID(o.lastId));
                }
            }
        }
        return idle;
    }

    /**
     * One fenced read of the keys still owned: their own pending entries after the cursor, or new ones, up to
     * {@value #PREFETCH} each, into their buffers.
     */
    private void fencedRead(List<String> candidates, boolean pending) {
        List<OwnedKey> keys = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        synchronized (owned) {
            for (String key : candidates) {
                OwnedKey o = owned.get(key);
                if (o != null && !o.halted && o.buffer.isEmpty()) {
                    keys.add(o);
                    ids.add(pending ? o.pendingCursor : ">");
                }
            }
        }
        if (keys.isEmpty()) {
            return;
        }
        List<Object> replies = leases.read(category, OwnedKeys.keys(keys), OwnedKeys.tokens(keys), ids, PREFETCH);
        List<String> vanished = new ArrayList<>();
        synchronized (owned) {
            for (int i = 0; i < replies.size(); i++) {
                List<Object> reply = PartitionLeases.list(replies.get(i));
                OwnedKey o = keys.get(i);
                if (!owned.isCurrent(o)) {
                    continue;
                }
                long kind = ((Number) reply.get(0)).longValue();
                if (kind == 0) {
                    owned.drop(o.key);
                } else if (kind == 1) {
                    if (pending) {
                        o.pendingNext = false;
                    } else {
                        o.lastId = text(reply.get(1));
                        o.ready = false;
                    }
                } else if (kind == 3) {
                    vanished.add(o.key);
                } else {
                    String last = null;
                    for (Object raw : PartitionLeases.list(reply.get(1))) {
                        List<Object> entry = PartitionLeases.list(raw);
                        last = text(entry.get(0));
                        Message message = message(o, last, PartitionLeases.list(entry.get(1)));
                        if (message != null) {
                            o.buffer.add(message);
                        }
                    }
                    if (pending) {
                        o.pendingCursor = last;
                    } else {
                        o.lastId = last;
                        o.ready = true;
                    }
                    o.lastActive = System.nanoTime();
                }
            }
        }
        if (!vanished.isEmpty()) {
            discovery.rediscover(vanished);
        }
    }

    private Message message(OwnedKey o, String entryId, List<Object> fields) {
        String data = null;
        for (int i = 0; i + 1 < fields.size(); i += 2) {
            if (RedisBroker.DATA.equals(text(fields.get(i)))) {
                data = text(fields.get(i + 1));
            }
        }
        String stream = PartitionedStreams.stream(category, o.key);
        try {
            Map<String, Object> payload = data == null ? Map.of() : JsonCodec.parse(data);
            if (!payload.isEmpty()) {
                return new Message(messageId(o.key, entryId), stream, payload, 1);
            }
        } catch (IllegalArgumentException e) {
            // dead-lettered below
        }
        LOG.log(Level.WARNING, "broker ''{0}'': entry {1} of stream ''{2}'' is not a message; dead-lettering it",
                brokerName, entryId, stream);
        deadLetters.writeQuietly(groups.state(stream, group), entryId, null, 1, DeadLetter.MALFORMED);
        return null;
    }

    private static String text(Object value) {
        return value instanceof byte[] bytes ? StreamEntries.utf8(bytes) : String.valueOf(value);
    }
}
