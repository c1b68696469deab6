package dev.courier.internal.engine;

import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.internal.ProteanEnvelope;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The messages a loop with workers holds: read and not finished. The reader adds what it reads while there is room;
 * workers take what is ready and report how it went; the acks of the finished ones wait here for the next read.
 *
 * <p>Under {@link Subscribe.Ordering#KEY} each key has a queue in stream order whose head alone is ready or running.
 * A head that failed and was rejected stays at its queue's head, awaiting its redelivery by the broker (it keeps its
 * place in the window, as it is coming back); the redelivered message takes its place and runs before the rest. A
 * message without a key is its own key: it waits for nothing. A partitioned stream's broker may ask that every
 * message be keyed by its stream, its partition ({@code byStream}), whatever the ordering.
 *
 * <p>Handing a message to another thread costs more than a quick handler (a wake-up, and the message's memory moving
 * between cores). So while the ready work is short by the handlers' recent times (at most
 * {@link #WAKE_BACKLOG_NANOS}), the reader runs it itself ({@link #takeQuick}), as a loop without workers would; and
 * a parked worker is woken only when the ready messages are more work than the threads running handlers clear within
 * that time: with slow handlers, every worker; a worker leaves the ready messages to the reader while it runs them
 * (see {@link #readerRunsThem}). One time far above the average moves it little (see {@link #measured}). At most
 * {@code concurrency} messages run at once, the reader's included. Each thread takes one message at a time, so a
 * ready message waits behind a handler that turns slow only until an idle worker sees the stall (see {@link #watch});
 * a handler that turns slow in the reader holds up the reading until it returns, and then the reader runs none of
 * the next {@link #SLOW_MEMORY}.
 */
final class InFlight {

    /** A held message with its key ({@code null}: its own key). */
    record Entry(Message message, String key) {
    }

    private final ReentrantLock lock = new ReentrantLock();
    /** Workers wait on it for a ready message. */
    private final Condition ready = lock.newCondition();
    /** The watching worker waits on it. */
    private final Condition watch = lock.newCondition();
    /** The reader waits on it for a message to finish. */
    private final Condition finished = lock.newCondition();
    private final int capacity;
    private boolean byKey;
    private final String keyField;
    private final ArrayDeque<Entry> runnable = new ArrayDeque<>();
    /** Under KEY: each key's held messages in stream order; the head is running, ready or awaited. */
    private final Map<String, ArrayDeque<Entry>> keys = new HashMap<>();
    /** Rejected heads awaiting redelivery: id to key, and when they were rejected. */
    private final Map<String, Awaited> awaited = new HashMap<>();
    /** Handed to workers and not finished; by identity (a record's equals would compare payloads). */
    private final java.util.Set<Entry> running = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    /** Messages handed out at once at most: the concurrency, the reader's quick ones included. */
    private final int workers;
    /** Workers parked on {@link #ready}, and how many of those were woken and are not back yet. */
    private int parked;
    private int woken;
    /** A worker watches; it sleeps until the next read (the loop was idle); the watch goes to a woken worker. */
    private boolean watched;
    private boolean watcherAsleep;
    private boolean watchHandedOver;
    private long lastAddAt;
    /** Recent handling time per message (a moving average): the work that the ready messages stand for. */
    private long handlingNanos = TimeUnit.MILLISECONDS.toNanos(1);
    /** Whether the last time measured was more than {@link #OUTLIER} times the average (see {@link #measured}). */
    private boolean lastOutlier;
    /** The reader runs ready messages itself ({@link #takeQuick}), the last one since then. */
    private boolean readerQuick;
    private long quickSince;
    /** Until {@link #progress} reaches it, no message runs in the reader: a handler was slow. */
    private long quickFrom;
    /** Messages finished or rejected so far: the watcher's measure of progress. */
    private long progress;
    private final Acks acks = new Acks();
    private int held;
    /** The room the reader waits for; finishing messages wake it only once there is that much, or none is held. */
    private int wanted = 1;
    /** No message is handed out any more: the loop stops. */
    private boolean closed;
    /** The stop gave up: what finishes now is not acknowledged. */
    private boolean abandoned;

    private record Awaited(String key, long since) {
    }

    /** Every message keyed by its stream (a partition's), whatever the ordering: the broker asked for it. */
    private boolean byStream;

    InFlight(Concurrency concurrency) {
        this.capacity = concurrency.maxInFlight();
        this.byKey = concurrency.ordering() == Subscribe.Ordering.KEY;
        this.keyField = concurrency.key();
        this.workers = concurrency.workers();
    }

    /**
     * From now on every message is keyed by {@link Message#stream()} (a partitioned stream's broker needs it);
     * before the first {@link #add}.
     */
    void keyByStream() {
        lock.lock();
        try {
            byStream = true;
            byKey = true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Ready work per thread running handlers beyond which a worker is woken (and up to which the reader runs it
     * itself): several times what a wake-up costs, and little beside a handler's own latency.
     */
    static final long WAKE_BACKLOG_NANOS = TimeUnit.MICROSECONDS.toNanos(200);

    /**
     * A handler that took this long is slow: more than a thread descheduled on a busy machine, far more than a quick
     * handler.
     */
    static final long SLOW_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    /**
     * No message finished this long while some are ready: the watching worker takes one. As long as a slow handler:
     * a shorter stall is as often the reader descheduled or a GC pause, and a worker taking over then only adds
     * hand-overs and wake-ups to a busy machine.
     */
    static final long STALL_NANOS = SLOW_NANOS;

    /** A handling time this many times the average is far above it: alone, it counts as this many times. */
    static final int OUTLIER = 4;

    /**
     * After a handler took longer than {@link #SLOW_NANOS}, the reader runs none of the next this many messages: a
     * handler that may turn slow in the reader holds up the reading, and does so at most once in this many.
     */
    static final int SLOW_MEMORY = 1000;

    /** After the last read that gave messages, the watcher watches this long before it sleeps. */
    static final long WATCH_LINGER_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

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

    /** Threads running a handler: workers, and the reader running quick ones. */
    int busy() {
        lock.lock();
        try {
            return running.size();
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
            lastAddAt = System.nanoTime();
            if (watcherAsleep) {
                watch.signal(); // the loop is busy again: the watch goes on
            }
            if (!quick()) {
                wakeIfNeeded(); // else the reader runs them (takeQuick)
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The next ready message for the reader to run itself, while the ready work is short; {@code null} when it is not
     * (the workers are woken for it), or none is ready. The reader reports it as a worker does ({@link #done},
     * {@link #rejected}) before it takes the next.
     *
     * @param lastNanos how long its last message took, 0 for none
     * @param now       {@link System#nanoTime}: when the reader runs the message it takes
     */
    Entry takeQuick(long lastNanos, long now) {
        lock.lock();
        try {
            measured(lastNanos);
            readerQuick = false;
            if (closed || !handable()) {
                return null;
            }
            if (!quick()) {
                wakeIfNeeded();
                return null;
            }
            readerQuick = true;
            quickSince = now;
            return handOut();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether the reader runs ready messages itself now and will run these too: it is in its quick run, the ready
     * work is short, and its message has not stalled. A worker leaves them to it: taking them only adds hand-overs.
     */
    private boolean readerRunsThem() {
        return readerQuick && quick() && System.nanoTime() - quickSince < STALL_NANOS;
    }

    /**
     * The next ready message for a worker, waiting for one; {@code null} once closed. The worker reports it
     * ({@link #done}, {@link #rejected}) before it takes the next.
     *
     * @param lastNanos how long the worker's last message took, 0 for none
     */
    Entry take(long lastNanos) throws InterruptedException {
        lock.lock();
        try {
            measured(lastNanos);
            while (!closed) {
                if (watchHandedOver && !watched) {
                    watchHandedOver = false;
                } else if (handable() && !readerRunsThem()) {
                    Entry entry = handOut();
                    wakeIfNeeded();
                    return entry;
                }
                if (!watched) {
                    watched = true;
                    try {
                        watch();
                    } finally {
                        watched = false;
                    }
                    if (!closed && handable()) {
                        if (parked > woken) {
                            // The watch goes on in another worker while this one runs a message.
                            watchHandedOver = true;
                            woken++;
                            ready.signal();
                        }
                        return handOut();
                    }
                    continue;
                }
                parked++;
                try {
                    ready.await();
                } finally {
                    parked--;
                    if (woken > 0) {
                        woken--;
                    }
                }
            }
            return null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The watching worker waits here until a message is for it: when the ready work wants one more thread, or no
     * message was finished for {@link #STALL_NANOS} while some are ready (the threads running handlers are held up
     * by slow ones), or the loop stops. While the loop reads messages it looks every {@link #STALL_NANOS}; a
     * while after the last read that gave any, it sleeps until the next.
     */
    private void watch() throws InterruptedException {
        long seen = progress;
        long seenAt = System.nanoTime();
        while (!closed && !(handable() && wantsWorker())) {
            if (held == 0 && System.nanoTime() - lastAddAt >= WATCH_LINGER_NANOS) {
                watcherAsleep = true;
                try {
                    watch.await();
                } finally {
                    watcherAsleep = false;
                }
                seen = progress;
                seenAt = System.nanoTime();
                continue;
            }
            long lookedAt = System.nanoTime();
            watch.awaitNanos(STALL_NANOS);
            long now = System.nanoTime();
            if (progress != seen || now - lookedAt >= 2 * STALL_NANOS) {
                // Progress, or this thread was held up itself (a GC pause, a busy machine): the handlers were not
                // seen stalling.
                seen = progress;
                seenAt = now;
            } else if (handable() && now - seenAt >= STALL_NANOS) {
                return;
            }
        }
    }

    private void measured(long lastNanos) {
        if (lastNanos > 0) {
            // One call far above the average is as often its thread descheduled or a GC pause as a slower handler:
            // it counts in full when the next one is far above too.
            long bound = OUTLIER * handlingNanos;
            boolean outlier = lastNanos > bound;
            long sample = outlier && !lastOutlier ? bound : lastNanos;
            lastOutlier = outlier;
            handlingNanos += (sample - handlingNanos) / 8;
            if (lastNanos > SLOW_NANOS) {
                quickFrom = progress + SLOW_MEMORY;
            }
        }
    }

    /** Whether a message is ready and may run now: fewer than the concurrency run. */
    private boolean handable() {
        return !runnable.isEmpty() && running.size() < workers;
    }

    private Entry handOut() {
        Entry entry = runnable.pollFirst();
        running.add(entry);
        return entry;
    }

    /**
     * Whether the ready work is short enough for the reader to run it itself, and no handler was slow or stalled of
     * late.
     */
    private boolean quick() {
        return progress >= quickFrom && (double) runnable.size() * handlingNanos <= WAKE_BACKLOG_NANOS;
    }

    /** Whether the ready messages are more work than the threads running handlers clear soon. */
    private boolean wantsWorker() {
        int awake = running.size() + woken;
        return awake == 0 || (double) runnable.size() * handlingNanos > (double) awake * WAKE_BACKLOG_NANOS;
    }

    /**
     * Wakes a worker if the ready messages want one. A woken worker that takes one and leaves more asks again, so
     * slow handlers wake every worker, one after the other.
     */
    private void wakeIfNeeded() {
        if (handable() && wantsWorker()) {
            if (parked > woken) {
                woken++;
                ready.signal();
            } else if (watched) {
                watch.signal();
            }
        }
    }

    /** The handlers returned (or the message was skipped or dead-lettered): it is done and to be acknowledged. */
    void done(Entry entry, boolean acknowledge) {
        lock.lock();
        try {
            running.remove(entry);
            progress++;
            if (acknowledge && !abandoned) {
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
            progress++;
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
                // The thread that finished it takes it next, or wakes a worker for it (take, takeQuick).
                runnable.add(queue.peekFirst());
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
            return acks.take();
        } finally {
            lock.unlock();
        }
    }

    /** Whether the oldest waiting ack has waited {@code nanos}. */
    boolean acksOlderThan(long nanos) {
        lock.lock();
        try {
            return acks.olderThan(nanos);
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
            watch.signalAll();
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
        if (byStream) {
            return message.stream();
        }
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
