package dev.courier.internal.engine;

import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.internal.ProteanEnvelope;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The messages a loop with workers holds: read and not finished. The reader adds what it reads while there is room;
 * workers take what is ready and report how it went; the acks of the finished ones wait here for the next read.
 *
 * <p>Under {@link Subscribe.Ordering#KEY} each key has a queue in stream order whose head alone is ready or running.
 * A head that failed and was rejected stays at its queue's head, awaiting its redelivery by the broker (it keeps its
 * place in the window, as it is coming back); the redelivered message takes its place and runs before the rest. A
 * message without a key is its own key: it waits for nothing.
 */
final class InFlight {

    /** A held message with its key ({@code null}: its own key). */
    record Entry(Message message, String key) {
    }

    private final ReentrantLock lock = new ReentrantLock();
    /** Workers wait on it for a ready message. */
    private final Condition ready = lock.newCondition();
    /** The reader waits on it for a message to finish. */
    private final Condition finished = lock.newCondition();
    private final int capacity;
    private final boolean byKey;
    private final String keyField;
    private final ArrayDeque<Entry> runnable = new ArrayDeque<>();
    /** Under KEY: each key's held messages in stream order; the head is running, ready or awaited. */
    private final Map<String, ArrayDeque<Entry>> keys = new HashMap<>();
    /** Rejected heads awaiting redelivery: id to key, and when they were rejected. */
    private final Map<String, Awaited> awaited = new HashMap<>();
    /** Handed to workers and not finished; by identity (a record's equals would compare payloads). */
    private final java.util.Set<Entry> running = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    /** Workers with messages in hand. */
    private int busy;
    private final int workers;
    private final List<String> acks = new ArrayList<>();
    private long oldestAckAt;
    private int held;
    /** The room the reader waits for; finishing messages wake it only once there is that much, or none is held. */
    private int wanted = 1;
    /** No message is handed out any more: the loop stops. Set under the lock; volatile for {@link #closed()}. */
    private volatile boolean closed;
    /** The stop gave up: what finishes now is not acknowledged. */
    private boolean abandoned;

    private record Awaited(String key, long since) {
    }

    InFlight(Concurrency concurrency) {
        this.capacity = concurrency.maxInFlight();
        this.byKey = concurrency.ordering() == Subscribe.Ordering.KEY;
        this.keyField = concurrency.key();
        this.workers = concurrency.workers();
    }

    /** The most messages a worker takes at once, when many are ready: fewer hand-overs, as many workers busy. */
    static final int MAX_TAKEN = 16;

    /** How many more messages the loop may read now. */
    int room() {
        lock.lock();
        try {
            return capacity - held;
        } finally {
            lock.unlock();
        }
    }

    /** Whether every held message waits for a rejected head: nothing runs, nothing can, until they come back. */
    boolean stuck() {
        lock.lock();
        try {
            return held > 0 && running.isEmpty() && runnable.isEmpty();
        } finally {
            lock.unlock();
        }
    }

    int held() {
        lock.lock();
        try {
            return held;
        } finally {
            lock.unlock();
        }
    }

    int busy() {
        lock.lock();
        try {
            return busy;
        } finally {
            lock.unlock();
        }
    }

    /** Takes in what a read gave, in stream order. */
    void add(List<Message> batch) {
        if (batch.isEmpty()) {
            return;
        }
        lock.lock();
        try {
            for (Message message : batch) {
                Awaited back = awaited.isEmpty() ? null : awaited.remove(message.id());
                if (back != null) {
                    // The rejected head, redelivered: it runs before the rest of its key.
                    ArrayDeque<Entry> queue = keys.get(back.key);
                    queue.pollFirst();
                    Entry head = new Entry(message, back.key);
                    queue.addFirst(head);
                    runnable.add(head);
                    continue;
                }
                held++;
                String key = byKey ? keyOf(message) : null;
                Entry entry = new Entry(message, key);
                if (key == null) {
                    runnable.add(entry);
                    continue;
                }
                ArrayDeque<Entry> queue = keys.computeIfAbsent(key, k -> new ArrayDeque<>());
                queue.addLast(entry);
                if (queue.size() == 1) {
                    runnable.add(entry);
                }
            }
            // One worker is woken; each that takes some and leaves more wakes the next (see take): with quick
            // handlers one or two workers clear a batch, instead of every worker waking (a futex each) for a few.
            if (!runnable.isEmpty()) {
                ready.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The next ready messages for a worker, waiting for one: its share of those ready (up to {@link #MAX_TAKEN}), at
     * least one; empty once closed. The worker reports each ({@link #done}, {@link #rejected}), then calls
     * {@link #idle}.
     */
    List<Entry> take() throws InterruptedException {
        lock.lock();
        try {
            while (runnable.isEmpty() && !closed) {
                ready.await();
            }
            if (closed) {
                return List.of();
            }
            int n = Math.max(1, Math.min(MAX_TAKEN, runnable.size() / workers));
            List<Entry> taken = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                Entry entry = runnable.pollFirst();
                running.add(entry);
                taken.add(entry);
            }
            busy++;
            if (!runnable.isEmpty()) {
                ready.signal(); // more are ready: another worker, if one waits
            }
            return taken;
        } finally {
            lock.unlock();
        }
    }

    /** A worker is done with what it took. */
    void idle() {
        lock.lock();
        try {
            busy--;
        } finally {
            lock.unlock();
        }
    }

    /** Whether the loop stops: a worker leaves the rest of what it took. */
    boolean closed() {
        return closed; // read for each message a worker runs: no lock
    }

    /** The handlers returned (or the message was skipped or dead-lettered): it is done and to be acknowledged. */
    void done(Entry entry, boolean acknowledge) {
        lock.lock();
        try {
            running.remove(entry);
            if (acknowledge && !abandoned) {
                if (acks.isEmpty()) {
                    oldestAckAt = System.nanoTime();
                }
                acks.add(entry.message().id());
            }
            finish(entry);
        } finally {
            lock.unlock();
        }
    }

    /**
     * The message is being rejected (called before the broker is told). Under KEY, when the broker delivers it
     * again, it stays its key's head until it comes back; otherwise it is done.
     */
    void rejected(Entry entry, boolean redelivered) {
        lock.lock();
        try {
            running.remove(entry);
            if (entry.key() != null && redelivered && !closed) {
                awaited.put(entry.message().id(), new Awaited(entry.key(), System.nanoTime()));
                finished.signalAll();
            } else {
                finish(entry);
            }
        } finally {
            lock.unlock();
        }
    }

    /** A rejected head that will not come back soon: its key goes on. */
    void notComing(Message message) {
        lock.lock();
        try {
            Awaited a = awaited.remove(message.id());
            if (a != null) {
                finish(keys.get(a.key).peekFirst());
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Lets go of rejected heads awaited longer than {@code nanos}: the broker gave them to another consumer, or
     * dead-lettered them; their keys go on. @return how many
     */
    int expire(long nanos) {
        lock.lock();
        try {
            if (awaited.isEmpty()) {
                return 0;
            }
            long now = System.nanoTime();
            int expired = 0;
            for (Iterator<Awaited> it = awaited.values().iterator(); it.hasNext(); ) {
                Awaited a = it.next();
                if (now - a.since >= nanos) {
                    it.remove();
                    finish(keys.get(a.key).peekFirst());
                    expired++;
                }
            }
            return expired;
        } finally {
            lock.unlock();
        }
    }

    private void finish(Entry entry) {
        held--;
        if (entry.key() != null) {
            ArrayDeque<Entry> queue = keys.get(entry.key());
            queue.pollFirst();
            if (queue.isEmpty()) {
                keys.remove(entry.key());
            } else {
                runnable.add(queue.peekFirst());
                ready.signal();
            }
        }
        if (held == 0 || capacity - held >= wanted) {
            finished.signal();
        }
    }

    /** The acks waiting, taken. */
    List<String> takeAcks() {
        lock.lock();
        try {
            if (acks.isEmpty()) {
                return List.of();
            }
            List<String> taken = List.copyOf(acks);
            acks.clear();
            return taken;
        } finally {
            lock.unlock();
        }
    }

    /** Whether the oldest waiting ack has waited {@code nanos}. */
    boolean acksOlderThan(long nanos) {
        lock.lock();
        try {
            return !acks.isEmpty() && System.nanoTime() - oldestAckAt >= nanos;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits up to {@code nanos} until there is room for {@code room} more messages (more than the capacity: until
     * none is held), or a rejected head is awaited.
     */
    void awaitRoom(int room, long nanos) throws InterruptedException {
        lock.lock();
        try {
            wanted = room;
            long left = nanos;
            while (held > 0 && capacity - held < room && left > 0 && !closed) {
                left = finished.awaitNanos(left);
            }
        } finally {
            wanted = 1;
            lock.unlock();
        }
    }

    /** Hands out nothing more; ready messages stay unacknowledged, for the broker to deliver again. */
    void close() {
        lock.lock();
        try {
            closed = true;
            ready.signalAll();
            finished.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until no handler runs, up to the deadline ({@link System#nanoTime}). @return whether none runs */
    boolean awaitIdle(long deadline) throws InterruptedException {
        lock.lock();
        try {
            while (!running.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                finished.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Gives up on the running handlers: they are not acknowledged. @return one of their messages, or {@code null} */
    Message abandon() {
        lock.lock();
        try {
            abandoned = true;
            return running.isEmpty() ? null : running.iterator().next().message();
        } finally {
            lock.unlock();
        }
    }

    /** The key of a message under KEY: the named payload field (or a Protean message's data field), else its stream. */
    String keyOf(Message message) {
        Map<String, Object> payload = message.payload();
        if (keyField.isEmpty()) {
            return ProteanEnvelope.stream(payload);
        }
        Object value = payload.get(keyField);
        if (value == null) {
            Map<String, Object> data = ProteanEnvelope.data(payload);
            value = data == null ? null : data.get(keyField);
        }
        return value == null ? null : String.valueOf(value);
    }

    boolean abandoned() {
        lock.lock();
        try {
            return abandoned;
        } finally {
            lock.unlock();
        }
    }
}
