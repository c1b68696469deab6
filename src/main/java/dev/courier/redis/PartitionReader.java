package dev.courier.redis;

import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.internal.JsonCodec;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XReadParams;
import redis.clients.jedis.resps.StreamEntry;

import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the owned keys into their buffers and hands messages out, at most one per key in flight: one fenced-read
 * script takes entries under each key's token (own pending ones first after an acquisition), and one blocking XREAD
 * over the idle owned streams wakes on new entries, so that idle keys cost no polling. Under a backlog the next keys
 * are read ahead, while the loop handles what a read handed out ({@link #readAhead}).
 */
final class PartitionReader {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");
    /** Entries read per key at once; handed out one at a time, so the key's order holds. */
    private static final int PREFETCH = 16;
    /**
     * Entries read at once for a key whose last read was full (a backlog): fewer XREADGROUPs and XACKs per message,
     * which is what a partitioned backlog costs Redis beyond one stream's.
     */
    private static final int BACKLOG_PREFETCH = 64;
    /** Keys read per fenced read at most, whatever the loop asks for: one round trip serves many. */
    private static final int READ_BATCH = 64;
    private static final byte[] DATA = RedisBroker.DATA.getBytes(java.nio.charset.StandardCharsets.UTF_8);

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
    /** Keys with buffered messages, in turn; and keys with messages out (a retry among them). Under the monitor. */
    private final ArrayDeque<OwnedKey> toHand = new ArrayDeque<>();
    private final ArrayDeque<OwnedKey> withOut = new ArrayDeque<>();
    /** The reads ahead ({@link #readAhead}). */
    private final GroupTask ahead;
    /**
     * Reads since the read ahead in flight started (the loop's thread's); past {@link #AHEAD_READS} the next read
     * waits for it, so that the keys it holds lose no more than that many turns to the keys handed out meanwhile.
     */
    private int readsSinceAhead;
    private static final int AHEAD_READS = 2;

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
        this.ahead = new GroupTask("courier-reads-" + brokerName + "-" + group);
    }

    /** A message's id: the key and the entry id (a key has no colon, an entry id neither). */
    static String messageId(String key, String entryId) {
        return key + ":" + entryId;
    }

    /**
     * Hands out up to {@code max} messages, reading more where a key's buffer is empty, waiting up to blockMs. Keys
     * are read and handed out in turn (round-robin), so that under a backlog every owned key progresses; each step
     * costs what it reads or hands out, not a pass over every owned key. Before it would wait, {@code settle}
     * sends the acks held back, whose keys then go on.
     */
    List<Message> read(int max, long blockMs, java.util.function.BooleanSupplier settle) {
        if (++readsSinceAhead > AHEAD_READS) {
            ahead.await(); // a key in it waits no longer than this for its turn (round-robin)
        }
        ahead.takeDone(); // a read ahead that failed fails this read, before anything is handed out
        List<Message> out = handOut(max);
        // Keys to read are read together, ahead (readAhead); here only when the buffered ones fall short: the keys
        // that the read in flight does not hold, beside it, or else what it brings.
        boolean read = false;
        if (out.size() < max) {
            try {
                read = readInTurn() || ahead.await();
            } catch (RuntimeException e) {
                if (out.isEmpty()) {
                    throw e;
                }
                // What was handed out goes to the loop (out on its keys, it would otherwise wait for a lease to
                // move); the keys are read again by the next read, which meets the failure if it lasts.
                return out;
            }
            if (read) {
                out.addAll(handOut(max - out.size()));
            }
        }
        if (!out.isEmpty()) {
            readAhead();
            return out;
        }
        if (read) {
            return out;
        }
        if (settle.getAsBoolean()) {
            return read(max, blockMs, () -> false); // its keys may hand out or read again
        }
        ahead.await(); // nothing in flight while this waits on the idle streams
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
        int prefix = category.length() + 1;
        synchronized (owned) {
            for (Map.Entry<String, List<StreamEntry>> stream : woken) {
                OwnedKey o = owned.get(stream.getKey().substring(prefix));
                if (o != null) {
                    o.ready = true; // those beyond max are read next time, without waiting
                    queueRead(o);
                }
            }
        }
        readInTurn();
        return handOut(max);
    }

    /**
     * While the loop handles what this read hands out, the keys due for a read ({@link #readsDue}) are read on a
     * thread of the group's: Redis serves that read, and the JVM parses it, while these messages are handled. One
     * read ahead is in flight at most; the loop's own reads, when what is buffered falls short, take the keys it does
     * not hold. A key is read by one read at a time ({@link OwnedKey#reading}), so its buffer stays in order.
     */
    private void readAhead() {
        if (readsDue() && ahead.start(this::readInTurn)) {
            readsSinceAhead = 0;
        }
    }

    /** Ends the reads ahead, after the one in flight (its messages stay pending for this token). */
    void close() {
        try {
            ahead.close();
        } catch (RuntimeException e) {
            // the group is closing: what it read stays pending, reclaimed by the next owner
        }
    }

    private boolean readsDue() {
        synchronized (owned) {
            // Not ahead of the hand-out by more than two reads' keys: what is buffered stays bounded whatever the
            // number of keys with a backlog (each key's buffer up to BACKLOG_PREFETCH).
            return owned.toRead.size() >= Math.min(READ_BATCH, Math.max(1, owned.size() / PREFETCH))
                    && toHand.size() < 2 * READ_BATCH;
        }
    }

    /** Reads the next keys in turn ({@value #READ_BATCH} at most), own pending entries and new ones; whether any. */
    private boolean readInTurn() {
        List<OwnedKey> pending = new ArrayList<>();
        List<OwnedKey> fresh = new ArrayList<>();
        synchronized (owned) {
            while (pending.size() + fresh.size() < READ_BATCH && !owned.toRead.isEmpty()) {
                OwnedKey o = owned.toRead.poll();
                o.toRead = false;
                if (o.reading) {
                    continue; // its read's reply queues it again if need be
                }
                if (o.parent != null && !idle(o.parent)) {
                    continue; // a lane waits while its key's stream has something: laneTurn queues it then
                }
                if (owned.isCurrent(o) && !o.halted && o.buffer.isEmpty()) {
                    if (o.pendingNext) {
                        o.reading = true;
                        pending.add(o);
                    } else if (o.ready) {
                        o.reading = true;
                        fresh.add(o);
                    }
                }
            }
        }
        if (!pending.isEmpty()) {
            try {
                fencedRead(pending, true);
            } catch (RuntimeException e) {
                synchronized (owned) {
                    for (OwnedKey o : fresh) {
                        o.reading = false;
                        queueRead(o); // not read: its turn stays
                    }
                }
                throw e;
            }
        }
        if (!fresh.isEmpty()) {
            fencedRead(fresh, false);
        }
        return !pending.isEmpty() || !fresh.isEmpty();
    }

    /** Queues a key for a read, once. Called holding the monitor. */
    private void queueRead(OwnedKey o) {
        if (!o.toRead) {
            o.toRead = true;
            owned.toRead.add(o);
        }
    }

    /**
     * Priority lanes: whether a key's own stream has nothing for now (nothing buffered, none of its own pending
     * entries left to read, its stream's end reached and known) and it is not halted, so that its lane may be read.
     */
    private static boolean idle(OwnedKey o) {
        return !o.halted && !o.pendingNext && !o.ready && !o.lastUnknown && o.buffer.isEmpty();
    }

    /** Priority lanes: the key's lane is read once its stream has nothing, if it may have entries. Holding the monitor. */
    private void laneTurn(OwnedKey o) {
        OwnedKey lane = o.lane;
        if (lane != null && idle(o) && !lane.halted && lane.buffer.isEmpty() && (lane.pendingNext || lane.ready)) {
            queueRead(lane);
        }
    }

    /** Queues a key with buffered messages for the hand-out, once. Called holding the monitor. */
    private void queueHandOut(OwnedKey o) {
        if (!o.toHand) {
            o.toHand = true;
            toHand.add(o);
        }
    }

    /**
     * The next messages of the keys, in turn, while each key's lease is surely this instance's: a head whose retry
     * delay is over, then the buffered ones, one per key with none out or, where the loop keeps a key's messages in
     * order ({@link #handOutSeveral}), several.
     */
    private List<Message> handOut(int max) {
        List<Message> out = new ArrayList<>();
        long nanos = System.nanoTime();
        long millis = System.currentTimeMillis();
        boolean several = this.several;
        synchronized (owned) {
            // Keys with messages out: heads due for their retry first (the loop may be waiting for them, its window
            // full behind them; a loop that keeps order takes them back in their places: beyond max); a key whose
            // messages are all settled takes its turn again (to hand out or to read).
            for (int n = withOut.size(); n > 0; n--) {
                OwnedKey o = withOut.poll();
                if (!owned.isCurrent(o)) {
                    o.withOut = false;
                    continue;
                }
                if (o.out.isEmpty()) {
                    o.withOut = false;
                    if (!o.buffer.isEmpty()) {
                        queueHandOut(o);
                    } else if (o.pendingNext || o.ready) {
                        queueRead(o);
                    } else {
                        laneTurn(o);
                    }
                    continue;
                }
                withOut.add(o);
                if ((out.size() < max || several) && o.retrying && o.retryAt <= millis && !o.halted
                        && nanos - o.validUntil < 0) {
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
            for (int n = toHand.size(); n > 0 && out.size() < limit; n--) {
                OwnedKey o = toHand.poll();
                if (!owned.isCurrent(o) || o.buffer.isEmpty() || o.halted || o.unit().releaseWhenSettled
                        || (!several && !o.out.isEmpty())) {
                    // Its turn comes again once its messages out are settled (a halted key's too), if it stays.
                    o.toHand = false;
                    continue;
                }
                if (nanos - o.validUntil >= 0) {
                    toHand.add(o); // its lease is being renewed: not now
                    continue;
                }
                int given = 0;
                while (out.size() < limit && given++ < perKey && !o.buffer.isEmpty()) {
                    Message m = o.buffer.poll();
                    o.out.put(m.id(), m);
                    out.add(m);
                }
                o.lastActive = nanos;
                if (!o.withOut) {
                    o.withOut = true;
                    withOut.add(o);
                }
                if (!o.buffer.isEmpty()) {
                    toHand.add(o); // after the others
                } else {
                    o.toHand = false;
                    if (o.pendingNext || o.ready) {
                        queueRead(o);
                    } else {
                        laneTurn(o);
                    }
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
                    idle.put(o.stream, new StreamEntryID(o.lastId));
                    OwnedKey lane = o.lane;
                    // The lane is waited on with its key's stream once that has nothing; one with its own pending
                    // entries left is read, not waited on (laneTurn queued it).
                    if (lane != null && idle(o) && !lane.halted && !lane.pendingNext && lane.buffer.isEmpty()) {
                        idle.put(lane.stream, new StreamEntryID(lane.lastId));
                    }
                }
            }
        }
        return idle;
    }

    /**
     * One fenced read of the keys still owned: their own pending entries after the cursor, or new ones, up to
     * {@value #PREFETCH} each, into their buffers. A new-entries read that gives fewer than that has reached the
     * stream's end, whose id the blocking XREAD then waits after; only a key whose end is unknown asks for it
     * (XREVRANGE).
     */
    private void fencedRead(List<OwnedKey> candidates, boolean pending) {
        List<OwnedKey> keys = new ArrayList<>(candidates.size());
        List<String> ids = new ArrayList<>(candidates.size());
        boolean[] askLast = new boolean[candidates.size()];
        int[] counts = new int[candidates.size()];
        synchronized (owned) {
            for (OwnedKey o : candidates) {
                if (owned.isCurrent(o) && !o.halted && o.buffer.isEmpty()) {
                    askLast[keys.size()] = !pending && o.lastUnknown;
                    counts[keys.size()] = !pending && o.backlog ? BACKLOG_PREFETCH : PREFETCH;
                    keys.add(o);
                    ids.add(pending ? o.pendingCursor : ">");
                } else {
                    o.reading = false;
                }
            }
        }
        if (keys.isEmpty()) {
            return;
        }
        List<Object> replies;
        try {
            replies = leases.read(category, OwnedKeys.keys(keys), OwnedKeys.tokens(keys), ids, askLast, counts);
        } catch (RuntimeException e) {
            synchronized (owned) {
                for (OwnedKey o : keys) {
                    o.reading = false;
                    queueRead(o); // its turn stays: read again at the next read
                }
            }
            throw e;
        }
        List<String> vanished = new ArrayList<>();
        synchronized (owned) {
            keys.forEach(o -> o.reading = false);
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
                        o.pendingNext = false; // new entries next, at once
                        o.ready = true;
                        queueRead(o);
                    } else if (reply.size() > 1) {
                        o.lastId = text(reply.get(1));
                        o.lastUnknown = false;
                        o.ready = false;
                        o.backlog = false;
                        laneTurn(o);
                    } else {
                        o.lastUnknown = true; // another reader took them (a lapsed lease): ask again, at once
                        queueRead(o);
                    }
                } else if (kind == 3) {
                    vanished.add(o.key);
                    queueRead(o); // read again once its group is back, unless it is given up
                } else {
                    List<Object> entries = PartitionLeases.list(reply.get(1));
                    String last = null;
                    for (Object raw : entries) {
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
                        o.lastUnknown = false;
                        o.ready = entries.size() >= counts[i]; // fewer: the stream's end, the XREAD waits after it
                        o.backlog = o.ready;
                    }
                    o.lastActive = System.nanoTime();
                    if (!o.buffer.isEmpty()) {
                        queueHandOut(o);
                    } else {
                        queueRead(o); // all malformed, dead-lettered: read on
                    }
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
            Object name = fields.get(i);
            if (name instanceof byte[] b ? java.util.Arrays.equals(b, DATA) : RedisBroker.DATA.equals(text(name))) {
                data = text(fields.get(i + 1));
            }
        }
        String stream = o.stream;
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
