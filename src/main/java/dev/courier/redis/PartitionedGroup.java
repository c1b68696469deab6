package dev.courier.redis;

import dev.courier.BrokerException;
import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.internal.JsonCodec;
import dev.courier.spi.RetryPolicy;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.params.XReadParams;
import redis.clients.jedis.resps.ScanResult;
import redis.clients.jedis.resps.StreamEntry;

import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One consumer group on a partitioned category, in this instance: owns keys through {@link PartitionLeases}, at most
 * one message of a key in flight (so a key's messages are handled in order, keys in parallel as the engine's
 * concurrency allows), read for all owned keys at once: one blocking XREAD over the idle owned streams wakes on new
 * entries, then one fenced-read script takes them under each key's token.
 *
 * <p>A heartbeat thread, apart from handlers, renews every lease in one script, finds new keys (SCARD first, SSCAN
 * through the index only when it changed or once a minute), creates the group on each new key at once, and moves
 * toward a fair share: ceil(keys / live owners), the live owners being those that wrote the group's owner set
 * within a lease TTL. Below it, it acquires free keys; above it, it releases the surplus at a message boundary.
 *
 * <p>A message rejected {@code max-retries} times is poison: under {@code halt} (Protean's way) the key stops and
 * stays owned until an operator skips, dead-letters or retries its head; under {@code dead-letter} it goes to
 * {@code <category>:<key>:dlq} and the key goes on, its order kept up to the dead letter.
 */
final class PartitionedGroup implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");
    /** Keys per script call, so that no call holds Redis for long. */
    private static final int CHUNK = 1000;
    /** Entries read per key at once; handed out one at a time, so the key's order holds. */
    private static final int PREFETCH = 16;
    /** Heartbeats between full index scans while SCARD stays the same (a reap and a new key can cancel out). */
    private static final int FULL_SCAN_EVERY = 20;
    /** SSCAN pages (of about {@value #CHUNK} keys) per heartbeat at most: 10,000 keys are found in one. */
    private static final int SCAN_PAGES = 10;

    enum Poison { HALT, DEAD_LETTER }

    /** What this instance knows of a key it owns. */
    static final class Owned {
        final String key;
        final String token;
        /** The last entry id the group was given for the key: the blocking XREAD wakes after it. */
        String lastId = StreamEntries.ZERO;
        /** Entries read under the token (pending on it) and not handed out yet, in order. */
        final ArrayDeque<Message> buffer = new ArrayDeque<>();
        /** The message handed out (or waiting for its retry, or halted on); null when none. */
        Message current;
        /** The entry handed out and not yet settled; null when none (also while a retry waits). */
        String inFlight;
        /** Read own pending entries next, from {@link #pendingCursor}: after acquisition, until none is left. */
        boolean pendingNext = true;
        String pendingCursor = "0";
        long retryAt;
        int attempts;
        boolean halted;
        boolean releaseWhenSettled;
        /** Its last read gave an entry, or XREAD woke on it: read it again before waiting on all of them. */
        boolean ready;
        /** When it was acquired or last gave a message (System.nanoTime): a reap waits for reap-idle after it. */
        long lastActive = System.nanoTime();
        /**
         * Until when (System.nanoTime) the lease is surely still this token's: four fifths of a TTL after the last
         * acquire or renew was sent. Buffered messages are handed out only before it, so that no handler starts
         * on a key whose lease may have moved.
         */
        long validUntil;

        Owned(String key, String token, long validUntil) {
            this.key = key;
            this.token = token;
            this.validUntil = validUntil;
        }
    }

    private final String brokerName;
    private final String category;
    private final String group;
    private final RedisConnection connection;
    private final PartitionLeases leases;
    private final DeadLetterQueue deadLetters;
    private final ConsumerGroups groups;
    private final RetryPolicy policy;
    private final Poison poison;
    private final long ttlMs;
    /** 0: never reaps. */
    private final long reapIdleMs;
    private final String owner;
    private final Map<String, Owned> owned = new LinkedHashMap<>();
    private final Set<String> known = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService heartbeat;
    private String scanCursor;
    private Set<String> scanned;
    private long lastCardinality = -1;
    private int beats;
    private int acquireFrom;
    private volatile int liveOwners = 1;
    private volatile boolean closed;

    PartitionedGroup(String brokerName, String category, String group, RedisConnection connection,
                     DeadLetterQueue deadLetters, ConsumerGroups groups, RetryPolicy policy, Poison poison,
                     long ttlMs, long reapIdleMs, String consumer) {
        this.brokerName = brokerName;
        this.category = category;
        this.group = group;
        this.connection = connection;
        this.leases = new PartitionLeases(connection, group);
        this.deadLetters = deadLetters;
        this.groups = groups;
        this.policy = policy;
        this.poison = poison;
        this.ttlMs = ttlMs;
        this.reapIdleMs = reapIdleMs;
        this.owner = consumer.replace(':', '-') + "-"
                + String.format("%06x", ThreadLocalRandom.current().nextInt(0x1000000));
        this.heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "courier-partitions-" + brokerName + "-" + group);
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(1, ttlMs / 5);
        heartbeat.scheduleWithFixedDelay(this::beatQuietly, 0, every, TimeUnit.MILLISECONDS);
    }

    String category() {
        return category;
    }

    String group() {
        return group;
    }

    String owner() {
        return owner;
    }

    /** The keys owned now, for tests and info. */
    synchronized Set<String> ownedKeys() {
        return Set.copyOf(owned.keySet());
    }

    // Reading

    /** A message's id: the key and the entry id (a key has no colon, an entry id neither). */
    static String messageId(String key, String entryId) {
        return key + ":" + entryId;
    }

    /**
     * Settles {@code acks}, then hands out up to {@code max} messages, at most one per key, reading more where a
     * key's buffer is empty and waiting up to {@code blockMs} when there is nothing.
     */
    List<Message> read(int max, long blockMs, List<String> acks) {
        if (!acks.isEmpty()) {
            ackAll(acks);
        }
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
                waitForKeys(blockMs);
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
        synchronized (this) {
            for (Map.Entry<String, List<StreamEntry>> stream : woken) {
                String key = stream.getKey().substring(prefix);
                Owned o = owned.get(key);
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
    private synchronized List<String> keys(java.util.function.Predicate<Owned> which, int max) {
        List<String> keys = new ArrayList<>();
        for (Owned o : owned.values()) {
            if (keys.size() == max) {
                break;
            }
            if (!o.halted && o.buffer.isEmpty() && which.test(o)) {
                keys.add(o.key);
            }
        }
        return keys;
    }

    /**
     * The next message of each key with none in flight, while its lease is surely this instance's: a retry whose
     * delay is over, else the head of its buffer.
     */
    private synchronized List<Message> handOut(int max) {
        List<Message> out = new ArrayList<>();
        long nanos = System.nanoTime();
        long millis = System.currentTimeMillis();
        for (Owned o : owned.values()) {
            if (out.size() == max) {
                break;
            }
            if (o.inFlight != null || o.halted || nanos - o.validUntil >= 0) {
                continue;
            }
            if (o.current == null) {
                o.current = o.buffer.poll();
            } else if (o.retryAt > millis) {
                continue;
            }
            if (o.current != null) {
                Message m = o.current;
                if (m.deliveryCount() != o.attempts + 1) {
                    m = new Message(m.id(), m.stream(), m.payload(), o.attempts + 1, m.traceContext());
                    o.current = m;
                }
                o.inFlight = m.id().substring(o.key.length() + 1);
                o.lastActive = nanos;
                out.add(m);
            }
        }
        return out;
    }

    /** Owned keys with an empty buffer and nothing waiting, for the blocking XREAD. */
    private synchronized Map<String, StreamEntryID> idleStreams() {
        Map<String, StreamEntryID> idle = new LinkedHashMap<>();
        for (Owned o : owned.values()) {
            if (!o.halted && !o.pendingNext && o.buffer.isEmpty()) {
                idle.put(PartitionedStreams.stream(category, o.key), new StreamEntryID(o.lastId));
            }
        }
        return idle;
    }

    private synchronized void waitForKeys(long ms) {
        try {
            wait(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * One fenced read of the keys still owned: their own pending entries after the cursor, or new ones, up to
     * {@value #PREFETCH} each, into their buffers.
     */
    private void fencedRead(List<String> candidates, boolean pending) {
        List<Owned> keys = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        synchronized (this) {
            for (String key : candidates) {
                Owned o = owned.get(key);
                if (o != null && !o.halted && o.buffer.isEmpty()) {
                    keys.add(o);
                    ids.add(pending ? o.pendingCursor : ">");
                }
            }
        }
        if (keys.isEmpty()) {
            return;
        }
        List<Object> replies = leases.read(category, keys(keys), tokens(keys), ids, PREFETCH);
        List<String> lost = new ArrayList<>();
        List<String> vanished = new ArrayList<>();
        synchronized (this) {
            for (int i = 0; i < replies.size(); i++) {
                List<Object> reply = PartitionLeases.list(replies.get(i));
                Owned o = keys.get(i);
                if (owned.get(o.key) != o) {
                    continue;
                }
                long kind = ((Number) reply.get(0)).longValue();
                if (kind == 0) {
                    lost.add(o.key);
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
            lost.forEach(this::drop);
        }
        if (!vanished.isEmpty()) {
            rediscover(vanished);
        }
    }

    private Message message(Owned o, String entryId, List<Object> fields) {
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

    // Settling

    /** Fenced XACK of each message's key, in one script: a key whose lease moved acknowledges nothing. */
    int ackAll(List<String> messageIds) {
        List<Owned> keys = new ArrayList<>(messageIds.size());
        List<String> entryIds = new ArrayList<>(messageIds.size());
        synchronized (this) {
            for (String id : messageIds) {
                int colon = id.lastIndexOf(':');
                Owned o = colon < 0 ? null : owned.get(id.substring(0, colon));
                if (o == null) {
                    LOG.log(Level.WARNING, "broker ''{0}'': message {1} of group ''{2}'' fenced, not acknowledged: "
                            + "this instance no longer owns its key of stream ''{3}''", brokerName, id, group,
                            category);
                } else {
                    keys.add(o);
                    entryIds.add(id.substring(colon + 1));
                }
            }
        }
        if (keys.isEmpty()) {
            return 0;
        }
        long[] acked = leases.ack(category, keys(keys), tokens(keys), entryIds);
        int acknowledged = 0;
        synchronized (this) {
            for (int i = 0; i < acked.length; i++) {
                Owned o = keys.get(i);
                if (acked[i] < 0) {
                    LOG.log(Level.WARNING, "broker ''{0}'': message {1} of group ''{2}'' fenced: the lease of key "
                            + "''{3}'' moved, so it was not acknowledged", brokerName,
                            messageId(o.key, entryIds.get(i)), group, o.key);
                    if (owned.get(o.key) == o) {
                        drop(o.key);
                    }
                    continue;
                }
                acknowledged += (int) acked[i];
                settled(o, entryIds.get(i));
            }
        }
        return acknowledged;
    }

    boolean ack(String messageId) {
        return ackAll(List.of(messageId)) == 1;
    }

    /** A message of the key is done with: the key reads new entries again, or is released if it was surplus. */
    private void settled(Owned o, String entryId) {
        if (!entryId.equals(o.inFlight)) {
            return;
        }
        o.inFlight = null;
        o.current = null;
        o.attempts = 0;
        o.retryAt = 0;
        if (o.releaseWhenSettled) {
            release(List.of(o));
        }
        notifyAll();
    }

    /**
     * A rejection: the head is read again (pending first) after the retry delay, the key's later messages waiting;
     * past {@code max-retries} the key halts or the head is dead-lettered.
     */
    boolean nack(String messageId) {
        int colon = messageId.lastIndexOf(':');
        String key = colon < 0 ? "" : messageId.substring(0, colon);
        String entryId = colon < 0 ? "" : messageId.substring(colon + 1);
        synchronized (this) {
            Owned o = owned.get(key);
            if (o == null || !entryId.equals(o.inFlight)) {
                return false;
            }
            o.attempts++;
            if (!policy.exhausted(o.attempts)) {
                o.retryAt = System.currentTimeMillis() + policy.delayBeforeRetry(o.attempts).toMillis();
                o.inFlight = null; // the message stays current: handed out again, before the key's next one
                return true;
            }
            if (poison == Poison.HALT) {
                o.halted = true;
                LOG.log(Level.ERROR, "broker ''{0}'': key ''{1}'' of stream ''{2}'' halted for group ''{3}'' on "
                        + "poison message {4} after {5} attempts; it stays owned until an operator skips, "
                        + "dead-letters or retries it", brokerName, key, category, group, entryId, o.attempts);
                return true;
            }
        }
        return moveToDeadLetters(messageId, "max_retries_exceeded");
    }

    /** Dead-letters the key's message in flight (or halted head) if the lease is still this instance's. */
    boolean moveToDeadLetters(String messageId, String reason) {
        int colon = messageId.lastIndexOf(':');
        String key = colon < 0 ? "" : messageId.substring(0, colon);
        String entryId = colon < 0 ? "" : messageId.substring(colon + 1);
        Owned o;
        synchronized (this) {
            o = owned.get(key);
            if (o == null || !entryId.equals(o.inFlight)) {
                return false;
            }
        }
        if (!stillOwned(o)) {
            return false;
        }
        String stream = PartitionedStreams.stream(category, key);
        deadLetters.write(groups.state(stream, group), entryId, null, Math.max(1, o.attempts), reason, o.token);
        synchronized (this) {
            o.halted = false;
            settled(o, entryId);
        }
        return true;
    }

    private boolean stillOwned(Owned o) {
        long sent = System.nanoTime();
        boolean[] renewed = leases.renew(List.of(o.key), List.of(o.token), ttlMs);
        synchronized (this) {
            if (renewed[0]) {
                o.validUntil = validUntil(sent);
            } else {
                drop(o.key);
            }
        }
        return renewed[0];
    }

    /** Four fifths of a TTL after {@code sent}: the lease cannot have lapsed before, whatever Redis's clock. */
    private long validUntil(long sent) {
        return sent + TimeUnit.MILLISECONDS.toNanos(ttlMs * 4 / 5);
    }

    // Operator API

    /** The halted keys of this group owned here, with their heads. */
    List<dev.courier.Partitions.HaltedKey> halted() {
        List<dev.courier.Partitions.HaltedKey> out = new ArrayList<>();
        synchronized (this) {
            for (Owned o : owned.values()) {
                if (o.halted) {
                    out.add(new dev.courier.Partitions.HaltedKey(category, group, o.key,
                            o.current.id(), o.attempts));
                }
            }
        }
        return out;
    }

    /** What an operator does to a halted key's head. */
    enum Resolution { SKIP, DEAD_LETTER, RETRY }

    boolean resolve(String key, Resolution resolution) {
        Owned o;
        synchronized (this) {
            o = owned.get(key);
            if (o == null || !o.halted) {
                return false;
            }
        }
        String entryId = o.inFlight;
        switch (resolution) {
            case SKIP -> {
                if (leases.ack(category, key, o.token, entryId) < 0) {
                    synchronized (this) {
                        drop(key);
                    }
                    return false;
                }
                LOG.log(Level.WARNING, "broker ''{0}'': poison message {1} of key ''{2}'' of stream ''{3}'' skipped "
                        + "for group ''{4}'' by an operator", brokerName, entryId, key, category, group);
                synchronized (this) {
                    o.halted = false;
                    settled(o, entryId);
                }
                return true;
            }
            case DEAD_LETTER -> {
                return moveToDeadLetters(messageId(key, entryId), "operator");
            }
            default -> {
                synchronized (this) {
                    o.halted = false;
                    o.attempts = 0;
                    o.inFlight = null;
                    o.retryAt = 0;
                    notifyAll();
                }
                return true;
            }
        }
    }

    // Heartbeat: renew, discover, balance

    private void beatQuietly() {
        if (closed) {
            return;
        }
        try {
            beat();
        } catch (RuntimeException e) {
            // A lease not renewed lapses within its TTL and is taken again at a new generation.
            LOG.log(Level.WARNING, "broker ''{0}'': partition heartbeat of group ''{1}'' on stream ''{2}'' failed: "
                    + "{3}", brokerName, group, category, e.getMessage());
        }
    }

    /** One heartbeat; package-private so that tests can run one at once. */
    void beat() {
        if (beats == 0) {
            connection.execute("SADD", j -> j.sadd(PartitionedStreams.courierGroups(category), group));
        }
        liveOwners = (int) Math.max(1, ((Number) connection.eval("partition owners", OWNERS,
                List.of(owners(group)), List.of(owner, Long.toString(ttlMs)))).longValue());
        renewAll();
        discover();
        balance();
        reap();
    }

    /** Reaps owned keys that gave nothing for reap-idle, at most a chunk per beat, as Protean's owner does. */
    private void reap() {
        if (reapIdleMs <= 0) {
            return;
        }
        long now = System.nanoTime();
        List<Owned> cold = new ArrayList<>();
        synchronized (this) {
            for (Owned o : owned.values()) {
                if (cold.size() < CHUNK && o.current == null && o.buffer.isEmpty() && !o.halted
                        && now - o.lastActive >= TimeUnit.MILLISECONDS.toNanos(reapIdleMs)) {
                    cold.add(o);
                }
            }
        }
        for (Owned o : cold) {
            long reaped = leases.reap(category, o.key, o.token, reapIdleMs);
            synchronized (this) {
                if (reaped == 1) {
                    LOG.log(Level.DEBUG, "broker ''{0}'': partition ''{1}'' of stream ''{2}'' reaped by group "
                            + "''{3}'' after {4} ms idle", brokerName, o.key, category, group, reapIdleMs);
                    owned.remove(o.key);
                    known.remove(o.key);
                } else if (reaped < 0) {
                    drop(o.key);
                } else {
                    o.lastActive = now; // refused: tried again after another reap-idle
                }
            }
        }
    }

    /** KEYS: the group's owner set. ARGV: owner, ttl ms. Marks the owner live now; how many are. */
    static final RedisConnection.LuaScript OWNERS = RedisConnection.LuaScript.of("""
            redis.replicate_commands()
            local t = redis.call('TIME')
            local now = t[1] * 1000 + math.floor(t[2] / 1000)
            redis.call('ZADD', KEYS[1], now, ARGV[1])
            redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
            redis.call('PEXPIRE', KEYS[1], ARGV[2] * 4)
            return redis.call('ZCARD', KEYS[1])
            """);

    /** The sorted set of a group's live Courier owners (score: last heartbeat); Protean writes none. */
    static String owners(String group) {
        return group + ":__owners__";
    }

    private void renewAll() {
        List<Owned> all;
        synchronized (this) {
            all = new ArrayList<>(owned.values());
        }
        for (int from = 0; from < all.size(); from += CHUNK) {
            List<Owned> chunk = all.subList(from, Math.min(all.size(), from + CHUNK));
            long sent = System.nanoTime();
            boolean[] renewed = leases.renew(keys(chunk), tokens(chunk), ttlMs);
            synchronized (this) {
                for (int i = 0; i < renewed.length; i++) {
                    if (renewed[i]) {
                        chunk.get(i).validUntil = validUntil(sent);
                    } else if (owned.get(chunk.get(i).key) == chunk.get(i)) {
                        LOG.log(Level.WARNING, "broker ''{0}'': lease of key ''{1}'' of stream ''{2}'' for group "
                                + "''{3}'' was lost; dropping the key", brokerName, chunk.get(i).key, category, group);
                        drop(chunk.get(i).key);
                    }
                }
            }
        }
    }

    /** SCARD each beat; SSCAN on (a few pages per beat) while it changed, and a full pass now and then. */
    private void discover() {
        String index = PartitionedStreams.index(category);
        beats++;
        if (scanCursor == null) {
            long cardinality = connection.execute("SCARD", j -> j.scard(index));
            if (cardinality == lastCardinality && beats % FULL_SCAN_EVERY != 0) {
                return;
            }
            lastCardinality = cardinality;
            scanCursor = ScanParams.SCAN_POINTER_START;
            scanned = new HashSet<>();
        }
        int pages = 0;
        do {
            pages++;
            String cursor = scanCursor;
            ScanResult<String> page = connection.execute("SSCAN", j -> j.sscan(index, cursor,
                    new ScanParams().count(CHUNK)));
            List<String> fresh = new ArrayList<>();
            for (String key : page.getResult()) {
                scanned.add(key);
                if (PartitionKey.rule(key) == null && known.add(key)) {
                    fresh.add(key);
                }
            }
            if (!fresh.isEmpty()) {
                createGroups(fresh);
            }
            scanCursor = page.getCursor();
        } while (!scanCursor.equals(ScanParams.SCAN_POINTER_START) && pages < SCAN_PAGES);
        if (scanCursor.equals(ScanParams.SCAN_POINTER_START)) {
            known.retainAll(scanned); // reaped keys are gone
            scanCursor = null;
            scanned = null;
        }
    }

    /**
     * Keys whose group is gone: their stream was reaped (by Protean, say) and maybe published to again. The group is
     * created again where the stream is back; the others are given up and forgotten until the index names them.
     */
    private void rediscover(List<String> keys) {
        List<Owned> gone = new ArrayList<>();
        for (String key : keys) {
            String stream = PartitionedStreams.stream(category, key);
            boolean exists = connection.execute("EXISTS", j -> j.exists(stream));
            if (exists) {
                createGroups(List.of(key));
                continue;
            }
            synchronized (this) {
                Owned o = owned.get(key);
                if (o != null) {
                    gone.add(o);
                }
                known.remove(key);
            }
        }
        synchronized (this) {
            release(gone);
        }
    }

    /** XGROUP CREATE ... 0 MKSTREAM on each new key at once, so that Protean's reaper sees the group. */
    private void createGroups(List<String> keys) {
        connection.execute("XGROUP CREATE (partitions)", j -> {
            try (redis.clients.jedis.AbstractPipeline pipeline = j.pipelined()) {
                for (String key : keys) {
                    pipeline.xgroupCreate(PartitionedStreams.stream(category, key), group, new StreamEntryID(0, 0),
                            true);
                }
                pipeline.sync(); // BUSYGROUP replies are expected: the group exists already
            }
            return null;
        });
    }

    /** Towards ceil(keys / live owners): acquires free keys below it, releases idle surplus above it. */
    private void balance() {
        int keys = known.size();
        int live = liveOwners;
        int share = (keys + live - 1) / Math.max(1, live);
        List<Owned> surplus = new ArrayList<>();
        int deficit;
        synchronized (this) {
            deficit = share - owned.size();
            if (deficit < 0 && live > 1) {
                int over = -deficit;
                for (Owned o : owned.values()) {
                    if (over == 0) {
                        break;
                    }
                    if (o.halted) {
                        continue; // a halted key waits for its operator here
                    }
                    if (o.current == null) {
                        surplus.add(o); // no message handed out: a message boundary (buffered ones stay pending)
                    } else {
                        o.releaseWhenSettled = true;
                    }
                    over--;
                }
                release(surplus);
            }
        }
        if (deficit > 0) {
            acquire(deficit);
        }
    }

    /** Tries the free keys, from where the last pass stopped, until {@code wanted} are won or every key was tried. */
    private void acquire(int wanted) {
        List<String> candidates;
        synchronized (this) {
            List<String> all = new ArrayList<>(known);
            all.sort(null);
            candidates = new ArrayList<>();
            for (int i = 0; i < all.size(); i++) {
                String key = all.get((acquireFrom + i) % all.size());
                if (!owned.containsKey(key)) {
                    candidates.add(key);
                }
            }
            acquireFrom = all.isEmpty() ? 0 : (acquireFrom + Math.min(all.size(), wanted * 2)) % all.size();
        }
        int won = 0;
        for (int from = 0; from < candidates.size() && won < wanted; ) {
            List<String> chunk = candidates.subList(from, Math.min(candidates.size(), from + Math.min(CHUNK,
                    Math.max(wanted - won, 16))));
            from += chunk.size();
            long sent = System.nanoTime();
            List<String> tokens = leases.acquire(owner, chunk, ttlMs);
            for (int i = 0; i < chunk.size(); i++) {
                String token = tokens.get(i);
                if (token == null) {
                    continue;
                }
                String key = chunk.get(i);
                // Earlier generations' pending entries move to this token before the first read.
                leases.reclaim(category, key, token);
                won++;
                synchronized (this) {
                    owned.put(key, new Owned(key, token, validUntil(sent)));
                    notifyAll();
                }
                if (won >= wanted) {
                    // Give back what this chunk won beyond the share, at once.
                    List<String> extra = new ArrayList<>();
                    List<String> extraTokens = new ArrayList<>();
                    for (int j = i + 1; j < chunk.size(); j++) {
                        if (tokens.get(j) != null) {
                            extra.add(chunk.get(j));
                            extraTokens.add(tokens.get(j));
                        }
                    }
                    if (!extra.isEmpty()) {
                        leases.release(extra, extraTokens);
                    }
                    break;
                }
            }
        }
    }

    /** Compare-and-delete of the keys' leases; they are no longer owned here. Called holding the monitor. */
    private void release(List<Owned> keys) {
        if (keys.isEmpty()) {
            return;
        }
        for (Owned o : keys) {
            owned.remove(o.key);
        }
        try {
            leases.release(keys(keys), tokens(keys));
        } catch (BrokerException e) {
            LOG.log(Level.DEBUG, () -> "releasing leases failed (they lapse within their TTL): " + e.getMessage());
        }
    }

    /** Stops handling a key without releasing it (its lease is gone or going): Protean's drop. */
    private void drop(String key) {
        owned.remove(key);
    }

    private static List<String> keys(List<Owned> owned) {
        List<String> keys = new ArrayList<>(owned.size());
        owned.forEach(o -> keys.add(o.key));
        return keys;
    }

    private static List<String> tokens(List<Owned> owned) {
        List<String> tokens = new ArrayList<>(owned.size());
        owned.forEach(o -> tokens.add(o.token));
        return tokens;
    }

    /** Stops the heartbeat and gives back every lease, so that other instances take the keys on their next beat. */
    @Override
    public void close() {
        closed = true;
        heartbeat.shutdownNow();
        try {
            heartbeat.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            List<Owned> all = new ArrayList<>(owned.values());
            for (int from = 0; from < all.size(); from += CHUNK) {
                release(new ArrayList<>(all.subList(from, Math.min(all.size(), from + CHUNK))));
            }
            notifyAll();
        }
        try {
            connection.execute("ZREM", j -> j.zrem(owners(group), owner));
        } catch (BrokerException e) {
            LOG.log(Level.DEBUG, () -> "leaving the owner set failed (it lapses): " + e.getMessage());
        }
    }

    /** For tests: the live owners seen at the last heartbeat. */
    int liveOwners() {
        return liveOwners;
    }
}
