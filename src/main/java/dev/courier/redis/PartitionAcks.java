package dev.courier.redis;

import dev.courier.Message;
import dev.courier.spi.RetryPolicy;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Settles the messages handed out: fenced acknowledgements (a key whose lease moved acknowledges nothing), rejections
 * (the head again after the retry delay, before the key's next message) and, past {@code max-retries}, the poison
 * rule: halt the key, or dead-letter the head and go on.
 *
 * <p>The acks a loop's reads hand in are sent in batches ({@link #defer}), each on a thread of its own while the loop
 * reads and hands out on: the fenced XACK script is a third of what a partitioned backlog costs Redis, and the loop
 * would otherwise wait for it. One batch is in flight at most; a batch's keys count its messages as out until its
 * reply, and a batch that failed fails the loop's next read, as a read that sent it would have.
 */
final class PartitionAcks implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");
    /**
     * The acks a loop hands in with its reads wait for this many, or this long, before one fenced script sends them:
     * a backlog over many keys would otherwise cost a round trip per read, whose other work is mostly the buffered
     * messages' hand-out (no Redis call). Far inside any message-timeout and the lease TTL.
     */
    private static final int DEFER_MAX = 1000;
    private static final long DEFER_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(20);

    private final String brokerName;
    private final String category;
    private final String group;
    private final PartitionLeases leases;
    private final OwnedKeys owned;
    private final DeadLetterQueue deadLetters;
    private final ConsumerGroups groups;
    private final RetryPolicy policy;
    private final PartitionedGroup.Poison poison;
    /** Handled messages' ids not acknowledged yet (see {@link #DEFER_MAX}), since {@link #deferredSince}. */
    private final List<String> deferred = new ArrayList<>();
    private long deferredSince;
    /** Sends the batches that came due with a read (see {@link #defer}). */
    private final GroupTask sender;

    PartitionAcks(String brokerName, String category, String group, PartitionLeases leases, OwnedKeys owned,
                  DeadLetterQueue deadLetters, ConsumerGroups groups, RetryPolicy policy,
                  PartitionedGroup.Poison poison) {
        this.brokerName = brokerName;
        this.category = category;
        this.group = group;
        this.leases = leases;
        this.owned = owned;
        this.deadLetters = deadLetters;
        this.groups = groups;
        this.policy = policy;
        this.poison = poison;
        this.sender = new GroupTask("courier-acks-" + brokerName + "-" + group);
    }

    /**
     * The ids of messages handled, handed in with a read: acknowledged with later ones, when enough wait or the
     * oldest has waited long enough ({@link #DEFER_MAX}), or when the reader has nothing else to do ({@link #flush}).
     * Until then their keys count them as out, so no key is released or reaped with a handled message unacknowledged.
     */
    void defer(List<String> messageIds) {
        List<String> due = null;
        synchronized (deferred) {
            if (deferred.isEmpty()) {
                deferredSince = System.nanoTime();
            }
            deferred.addAll(messageIds);
            if (deferred.size() >= DEFER_MAX || System.nanoTime() - deferredSince >= DEFER_NANOS) {
                due = take();
            }
        }
        if (due != null) {
            sendOn(due);
        }
    }

    /** Sends the deferred acks now, after the batch in flight; whether there were any. */
    boolean flush() {
        boolean waited = sender.await();
        List<String> due;
        synchronized (deferred) {
            due = take();
        }
        if (due.isEmpty()) {
            return waited;
        }
        send(due);
        return true;
    }

    /**
     * Sends a batch on the sender thread, once the one before it is done: the reader goes on meanwhile. The one
     * before's failure is thrown here: its messages stay out and pending, and come again, as when the read that
     * would have sent it failed; this batch waits for the next.
     */
    private void sendOn(List<String> due) {
        try {
            sender.await();
        } catch (RuntimeException e) {
            synchronized (deferred) {
                deferred.addAll(0, due);
            }
            throw e;
        }
        if (!sender.start(() -> send(due))) {
            send(due); // the group is closing: in this thread
        }
    }

    /** Ends the sender thread, after the batch in flight; later batches are sent in the caller's thread. */
    @Override
    public void close() {
        try {
            sender.close();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "broker ''{0}'': the last acknowledgements of group ''{1}'' of stream ''{2}'' "
                    + "failed ({3}); those messages come again", brokerName, group, category,
                    e.getClass().getSimpleName());
        }
    }

    private List<String> take() {
        List<String> due = new ArrayList<>(deferred);
        deferred.clear();
        return due;
    }

    /** Fenced XACK of the messages (after any deferred ones): how many of these were acknowledged. */
    int ackAll(List<String> messageIds) {
        flush();
        return send(messageIds);
    }

    /**
     * Fenced XACK of the messages, in one script, with one XACK per key for all of its ids: a key whose lease moved
     * acknowledges nothing.
     */
    private int send(List<String> messageIds) {
        Map<OwnedKey, List<String>> byKey = new LinkedHashMap<>(); // message ids
        synchronized (owned) {
            for (String id : messageIds) {
                int colon = id.lastIndexOf(':');
                OwnedKey o = colon < 0 ? null : owned.get(id.substring(0, colon));
                if (o == null) {
                    LOG.log(Level.WARNING, "broker ''{0}'': message {1} of group ''{2}'' fenced, not acknowledged: "
                            + "this instance no longer owns its key of stream ''{3}''", brokerName, id, group,
                            category);
                } else {
                    byKey.computeIfAbsent(o, k -> new ArrayList<>()).add(id);
                }
            }
        }
        if (byKey.isEmpty()) {
            return 0;
        }
        List<OwnedKey> keys = new ArrayList<>(byKey.keySet());
        List<List<String>> entryIds = new ArrayList<>(keys.size());
        for (OwnedKey o : keys) {
            entryIds.add(byKey.get(o).stream().map(id -> id.substring(o.key.length() + 1)).toList());
        }
        long[] acked = leases.ack(category, OwnedKeys.keys(keys), OwnedKeys.tokens(keys), entryIds);
        int acknowledged = 0;
        synchronized (owned) {
            for (int i = 0; i < acked.length; i++) {
                OwnedKey o = keys.get(i);
                List<String> ids = byKey.get(o);
                if (acked[i] < 0) {
                    LOG.log(Level.WARNING, "broker ''{0}'': {1} message(s) of group ''{2}'' fenced, from {3}: the "
                            + "lease of key ''{4}'' moved, so they were not acknowledged", brokerName, ids.size(),
                            group, ids.get(0), o.key);
                    if (owned.isCurrent(o)) {
                        owned.drop(o.key);
                    }
                    continue;
                }
                acknowledged += (int) acked[i];
                for (String id : ids) {
                    settle(o, o.out.get(id));
                }
            }
            owned.wake();
        }
        return acknowledged;
    }

    /**
     * A message of the key is done with: the key reads new entries again, or is released if it was surplus and
     * nothing of it is out. Called holding the monitor.
     */
    void settled(OwnedKey o, String entryId) {
        settle(o, o.out(entryId));
        owned.wake();
    }

    /** As {@link #settled}, for the message out (null: none), waking no one: the caller wakes the reader once. */
    private void settle(OwnedKey o, Message m) {
        if (m == null) {
            return;
        }
        o.out.remove(m.id());
        if (m == o.failing) {
            o.failing = null;
            o.attempts = 0;
            o.retrying = false;
            o.retryAt = 0;
        }
        OwnedKey unit = o.unit(); // a lane is released with its key, once both are settled
        if (unit.releaseWhenSettled && unit.settled()) {
            owned.release(List.of(unit));
        }
    }

    /** The message out with the entry id, with the loop (not waiting for its retry); null when none. */
    private static Message running(OwnedKey o, String entryId) {
        Message m = o.out(entryId);
        return m == null || (m == o.failing && o.retrying) ? null : m;
    }

    /**
     * A rejection: the head is read again (pending first) after the retry delay, the key's later messages waiting;
     * past {@code max-retries} the key halts or the head is dead-lettered.
     */
    boolean nack(String messageId) {
        int colon = messageId.lastIndexOf(':');
        String key = colon < 0 ? "" : messageId.substring(0, colon);
        String entryId = colon < 0 ? "" : messageId.substring(colon + 1);
        synchronized (owned) {
            OwnedKey o = owned.get(key);
            Message m = o == null ? null : running(o, entryId);
            if (m == null) {
                return false;
            }
            if (m != o.failing) {
                o.failing = m; // the key's earlier messages out are done: their acks come with the next read
                o.attempts = 0;
            }
            o.attempts++;
            if (!policy.exhausted(o.attempts)) {
                o.retryAt = System.currentTimeMillis() + policy.delayBeforeRetry(o.attempts).toMillis();
                o.retrying = true; // it keeps its place: handed out again, before the key's next one
                return true;
            }
            if (poison == PartitionedGroup.Poison.HALT) {
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
        OwnedKey o;
        synchronized (owned) {
            o = owned.get(key);
            if (o == null || running(o, entryId) == null) {
                return false;
            }
        }
        if (!owned.stillOwned(o)) {
            return false;
        }
        String stream = PartitionedStreams.stream(category, key);
        deadLetters.write(groups.state(stream, group), entryId, null, Math.max(1, o.attempts), reason, o.token);
        synchronized (owned) {
            o.halted = false;
            settled(o, entryId);
        }
        return true;
    }
}
