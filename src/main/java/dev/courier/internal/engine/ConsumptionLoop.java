package dev.courier.internal.engine;

import dev.courier.engine.LoopStatus;
import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.Message;
import dev.courier.engine.GroupMetrics;
import dev.courier.internal.CurrentMessage;
import dev.courier.internal.telemetry.Telemetry;
import dev.courier.spi.BrokerSettings;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Reads one stream of one broker as one consumer group, on its own thread, and hands each message to the handlers
 * whose type matches it.
 *
 * <p>With a circuit breaker, the failure that opens it is not rejected: that message and the rest of its batch are
 * held here, unacknowledged (so the broker spends no retry and counts no delivery), nothing is read while the
 * circuit is open, and once it is half-open the first held message is the probe.
 *
 * <p>With a {@link Concurrency} above one, the loop's thread reads into an {@link InFlight} window and runs quick
 * handlers itself; up to that many workers (threads from the same factory) run the others, and the loop's thread
 * counts among them. Acks wait in the window and go with the next read.
 * There the circuit breaker only stops reading while it is open: a failing message is rejected as usual.
 */
final class ConsumptionLoop implements Runnable {

    private static final System.Logger LOG = System.getLogger("dev.courier.engine");

    /*
     * Idle polling of a broker without BLOCKING_READ: the pause doubles from 1 ms to 50 ms while the stream stays
     * empty, and drops back after a message. A burst is followed within a millisecond or two; an idle loop costs
     * about 20 cheap reads a second (an in-memory read for inline), and the first message after a quiet spell waits
     * at most 50 ms.
     */
    static final Duration MIN_IDLE_PAUSE = Duration.ofMillis(1);
    static final Duration MAX_IDLE_PAUSE = Duration.ofMillis(50);
    /** While the broker cannot be reached, and after the loop ended on an error: 1, 2, 4 ... 30 s between attempts. */
    static final Duration MIN_RECONNECT_PAUSE = Duration.ofSeconds(1);
    static final Duration MAX_RECONNECT_PAUSE = Duration.ofSeconds(30);

    /**
     * Acknowledgements are sent together (one XACK on Redis), at the end of each batch, or sooner once the oldest
     * waiting one has waited this long. So an ack waits at most this plus one handler's run (the wait the message in
     * hand has anyway), far inside any message-timeout; a crash before it leads to redelivery (at least once).
     */
    static final long MAX_ACK_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    /**
     * How long a key waits at most for its rejected head to be delivered again (after the broker's retry delay): past
     * it, the broker is taken to have given it to another consumer or dead-lettered it, and the key goes on.
     */
    static final long MAX_AWAIT_REDELIVERY_NANOS = TimeUnit.SECONDS.toNanos(60);

    /** While the window is full of messages waiting for rejected heads: one read of one message this often at most. */
    static final long STUCK_READ_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    /** How many types of skipped messages are logged, each once. */
    static final int MAX_SKIPPED_TYPES = 1000;

    /** Message ids in the log are cut to this length: a broker may let a stream use long ids. */
    private static final int LOGGED_ID_LENGTH = 100;

    final int order;
    final Broker broker;
    final String stream;
    final String group;
    private final List<Handler> handlers;
    /** Whether every handler takes messages of any type. */
    private final boolean anyType;
    private final EngineSettings settings;
    private final boolean blocking;
    private final boolean acknowledges;
    private final CircuitBreaker breaker;
    final Concurrency concurrency;
    /** With workers: what is read and not finished; {@code null} for one handler at a time. */
    private final InFlight window;
    /**
     * The broker asked that messages be kept in order per stream (a partition's), and be checked before each start;
     * set at the start, before the workers run.
     */
    private boolean byStream;
    private final List<Thread> workers = new java.util.concurrent.CopyOnWriteArrayList<>();
    private long nextStuckRead;
    private volatile long stopRequestedAt;
    /** Of the batch in hand, one handler at a time: messages not finished yet. */
    private volatile int batchLeft;
    /** Messages read, neither acknowledged nor rejected, waiting for the circuit to close; only the cycle's thread. */
    private final Deque<Message> held = new ArrayDeque<>();

    /** Held for a read and the handling of what it gave; lets a sync-mode publish drain the loop in its thread. */
    final ReentrantLock cycleLock = new ReentrantLock();
    private final CountDownLatch stopSignal = new CountDownLatch(1);
    /** The message whose handlers are running; taken away by a stop that gave up waiting, so it is left pending. */
    private final AtomicReference<Message> inHand = new AtomicReference<>();
    private volatile boolean stopping;
    private volatile Thread thread;

    private volatile LoopStatus.State state = LoopStatus.State.STARTING;
    private volatile Instant lastCycle;
    private volatile String lastError;
    private final LongAdder handled = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder unbindable = new LongAdder();
    private final LongAdder skipped = new LongAdder();
    private final LongAdder restarts = new LongAdder();
    private final LongAdder deadLettered = new LongAdder();
    private final LongAdder halted = new LongAdder();
    private final LongAdder reconnects = new LongAdder();
    private final LongAdder handlings = new LongAdder();
    private final LongAdder handlerNanos = new LongAdder();
    private final java.util.concurrent.atomic.LongAccumulator longestHandling =
            new java.util.concurrent.atomic.LongAccumulator(Math::max, 0);
    /** Told of each handling; set before the loop starts. */
    private Telemetry.Processing observer = Telemetry.Processing.NONE;
    /** The wait before the next restart after the loop ended on an error; only the loop's thread touches it. */
    private long restartPauseMillis = MIN_RECONNECT_PAUSE.toMillis();
    /** The types of skipped messages logged so far; bounded, as the types come from the stream. */
    private final java.util.Set<String> skippedTypes = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Handled messages whose ack is not sent yet; only the thread in a cycle (holding cycleLock) touches it. */
    private final List<String> toAck = new ArrayList<>();
    private long oldestUnackedAt;

    ConsumptionLoop(int order, Broker broker, String stream, String group, List<Handler> handlers,
                    EngineSettings settings) {
        this(order, broker, stream, group, handlers, settings,
                Concurrency.SEQUENTIAL.resolve(settings.subscriber(group), 1, settings.batchSize()));
    }

    ConsumptionLoop(int order, Broker broker, String stream, String group, List<Handler> handlers,
                    EngineSettings settings, Concurrency concurrency) {
        this.order = order;
        this.concurrency = concurrency;
        this.window = concurrency.parallel() ? new InFlight(concurrency) : null;
        this.broker = broker;
        this.stream = stream;
        this.group = group;
        this.handlers = List.copyOf(handlers);
        this.anyType = this.handlers.stream().allMatch(h -> h.subscription().type().isEmpty());
        this.settings = settings;
        this.blocking = broker.hasCapability(BrokerCapability.BLOCKING_READ);
        this.acknowledges = broker.hasCapability(BrokerCapability.ACK_NACK);
        this.breaker = new CircuitBreaker(this.handlers.get(0).subscription().circuitBreaker(),
                InstantSource.system());
    }

    /** A subscriber method with the binder of its parameter. */
    record Handler(Subscription subscription, PayloadBinder binder) {
        boolean wants(Message message) {
            return subscription.type().isEmpty() || subscription.type().equals(message.type());
        }
    }

    /** Reports the handlings to {@code telemetry}; before {@link #start}. */
    void useTelemetry(Telemetry telemetry) {
        observer = telemetry.processing(broker.name(), broker.provider(), stream, group);
    }

    boolean usesJsonb() {
        return handlers.stream().anyMatch(h -> h.binder().usesJsonb());
    }

    void start(java.util.concurrent.ThreadFactory threads) {
        Thread t = threads.newThread(this);
        if (t == null) {
            throw new IllegalStateException("the thread factory gave no thread for " + this);
        }
        try {
            t.setName("courier-" + broker.name() + "-" + stream + "-" + group);
        } catch (SecurityException ignored) {
            // A managed thread may refuse a new name; the default name will do.
        }
        thread = t;
        // A partitioned stream's broker hands out several messages of a partition at once when the loop keeps
        // them in order: workers do, by the message's stream; one message at a time does without.
        if (window != null && broker instanceof dev.courier.spi.AbstractBroker adapter
                && adapter.keepsOrderPerStream(stream, group)) {
            byStream = true;
            window.keyByStream();
        }
        if (window != null) {
            for (int i = 1; i <= concurrency.workers(); i++) {
                Thread w = threads.newThread(this::work);
                if (w == null) {
                    throw new IllegalStateException("the thread factory gave no thread for a worker of " + this);
                }
                try {
                    w.setName(t.getName() + "-worker-" + i);
                } catch (SecurityException ignored) {
                    // as for the loop's thread
                }
                workers.add(w);
            }
            workers.forEach(Thread::start);
        }
        t.start();
    }

    @Override
    public void run() {
        LOG.log(Level.DEBUG, () -> "started " + this);
        try {
            while (!stopping) {
                try {
                    consume();
                } catch (Throwable e) {
                    // An OutOfMemoryError, or a bug: what consume() does not recover from by itself. The loop is
                    // started again after the backoff, so that one failure does not end consumption for good.
                    if (stopping) {
                        break;
                    }
                    restarts.increment();
                    state = LoopStatus.State.RESTARTING;
                    long pauseMillis = restartPauseMillis;
                    recordEnd(e, pauseMillis);
                    if (pause(Duration.ofMillis(pauseMillis))) {
                        break;
                    }
                    restartPauseMillis = Math.min(pauseMillis * 2, MAX_RECONNECT_PAUSE.toMillis());
                }
            }
            finishStop();
        } finally {
            if (window != null) {
                window.close();
            }
            state = LoopStatus.State.STOPPED;
            LOG.log(Level.DEBUG, () -> "stopped " + this);
        }
    }

    /**
     * Stops handing out messages, lets the running handlers finish within the shutdown timeout (leaving the engine a
     * moment to close the broker after), and sends the acks of what finished. What was read and not started stays
     * unacknowledged, for the broker to deliver again.
     */
    private void finishStop() {
        try {
            if (window != null) {
                window.close();
                long timeout = settings.shutdownTimeout().toNanos();
                long reserve = Math.min(timeout / 5, TimeUnit.MILLISECONDS.toNanos(500));
                boolean idle;
                try {
                    idle = window.awaitIdle(stopRequestedAt + timeout - reserve);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    idle = false;
                }
                if (!idle) {
                    // Left unacknowledged, to be delivered again; the workers are interrupted, as the engine does.
                    Message left = window.abandon();
                    workers.forEach(Thread::interrupt);
                    LOG.log(Level.WARNING, "{0}: handlers outlived courier.engine.shutdown-timeout ({1} ms) and were "
                            + "interrupted; their messages (such as {2}) are left unacknowledged, to be delivered "
                            + "again", this, settings.shutdownTimeout().toMillis(), left == null ? "-" : id(left));
                }
                List<String> ids = window.takeAcks();
                if (!ids.isEmpty()) {
                    broker.ackAll(stream, ids, group);
                }
            }
            sendAcks();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "{0}: the last acknowledgements failed ({1}); those messages come again", this,
                    BrokerSettings.maskUserInfo(String.valueOf(e)));
        }
    }

    /** Logs why the loop ended; with no memory left even for that, the restart goes on without it. */
    private void recordEnd(Throwable e, long pauseMillis) {
        try {
            // A message whose handler was running is left unacknowledged: delivered again after message-timeout.
            inHand.set(null);
            lastError = BrokerSettings.maskUserInfo(e.getClass().getName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()));
            LOG.log(Level.ERROR, () -> this + " ended on " + lastError + "; starting it again in "
                    + pauseMillis / 1000 + " s", e);
        } catch (Throwable ignored) {
            // nothing more to do
        }
    }

    /** Reads and handles until the loop is stopped; broker failures are waited out with the backoff. */
    private void consume() {
        Duration idlePause = Duration.ZERO;
        Duration reconnectPause = MIN_RECONNECT_PAUSE;
        boolean backingOff = false;
        while (!stopping) {
            long open = breaker.remainingMillis();
            if (open > 0) {
                // Nothing is read or claimed: the circuit is open.
                state = LoopStatus.State.OPEN;
                flushAcks();
                if (pause(Duration.ofMillis(open))) {
                    break;
                }
                continue;
            }
            int read;
            try {
                cycleLock.lock();
                try {
                    if (stopping) {
                        break;
                    }
                    read = cycle();
                } finally {
                    cycleLock.unlock();
                }
            } catch (RuntimeException e) {
                if (stopping) {
                    // The stop gave up waiting and the broker was closed under a read: not a broker failure.
                    LOG.log(Level.DEBUG, () -> this + ": broker call ended by the stop: " + e);
                    break;
                }
                // Unreachable (BrokerConnectionException) or failing: no exception ends the loop. The error is
                // set before the state, so that a status showing BACKING_OFF always says why.
                lastError = BrokerSettings.maskUserInfo(e.getClass().getName()
                        + (e.getMessage() == null ? "" : ": " + e.getMessage()));
                state = LoopStatus.State.BACKING_OFF;
                backingOff = true;
                LOG.log(Level.WARNING, "{0}: broker failed ({1}); trying again in {2} s", this, lastError,
                        reconnectPause.toSeconds());
                if (pause(reconnectPause)) {
                    break;
                }
                reconnectPause = min(reconnectPause.multipliedBy(2), MAX_RECONNECT_PAUSE);
                continue;
            }
            if (backingOff) {
                backingOff = false;
                reconnects.increment();
                observer.reconnected();
                LOG.log(Level.INFO, "{0}: broker reachable again; consuming", this);
            }
            reconnectPause = MIN_RECONNECT_PAUSE;
            restartPauseMillis = MIN_RECONNECT_PAUSE.toMillis();
            if (read > 0 || blocking) {
                idlePause = Duration.ZERO;
            } else {
                idlePause = idlePause.isZero() ? MIN_IDLE_PAUSE : min(idlePause.multipliedBy(2), MAX_IDLE_PAUSE);
                if (pause(idlePause)) {
                    break;
                }
            }
        }
    }

    /**
     * Reads until the stream has nothing more for the group, handling what comes, in the calling thread. The caller
     * holds {@link #cycleLock}. A broker failure is logged and ends the drain; the loop's thread will retry.
     */
    void drain() {
        try {
            while (!stopping && batchCycle() > 0) {
                // next batch
            }
            sendAcks();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "{0}: synchronous delivery failed ({1}); the loop will deliver later", this,
                    BrokerSettings.maskUserInfo(String.valueOf(e)));
        }
    }

    /**
     * One read and the handling of what it gave; held messages first, without a read, and while the circuit is
     * half-open a single message, the probe. @return how many messages were handled or read
     */
    private int cycle() {
        return window == null ? batchCycle() : readCycle();
    }

    private int batchCycle() {
        CircuitBreaker.State circuit = breaker.state();
        if (circuit == CircuitBreaker.State.OPEN) {
            return 0;
        }
        boolean probe = circuit == CircuitBreaker.State.HALF_OPEN;
        int max = probe ? 1 : Math.min(settings.batchSize(), concurrency.maxInFlight());
        List<Message> batch;
        if (!held.isEmpty()) {
            sendAcks();
            batch = new ArrayList<>(max);
            while (batch.size() < max && !held.isEmpty()) {
                batch.add(held.pollFirst());
            }
        } else {
            // The last batch's acks ride with this read.
            batch = broker.read(stream, group, max, blocking ? settings.blockTimeout() : Duration.ZERO, takeAcks());
        }
        batchLeft = batch.size();
        state = probe ? LoopStatus.State.HALF_OPEN : LoopStatus.State.RUNNING;
        lastCycle = Instant.now();
        lastError = null;
        int next = 0;
        boolean done = false;
        try {
            for (; next < batch.size(); next++, batchLeft--) {
                Message message = batch.get(next);
                if (stopping) {
                    // The rest stay unacknowledged: the broker delivers them again.
                    break;
                }
                process(message);
                if (breaker.state() != CircuitBreaker.State.CLOSED) {
                    // This message opened the circuit (and is held first): the rest of the batch after it, in order.
                    Message failing = held.pollFirst();
                    for (int j = batch.size() - 1; j > next; j--) {
                        held.addFirst(batch.get(j));
                    }
                    held.addFirst(failing);
                    state = LoopStatus.State.OPEN;
                    break;
                }
                if (!toAck.isEmpty() && System.nanoTime() - oldestUnackedAt >= MAX_ACK_DELAY_NANOS) {
                    sendAcks();
                }
            }
            done = true;
        } catch (Error e) {
            // The loop ends (an OutOfMemoryError in a handler, a bug) and restarts: the rest of the batch is held,
            // to be handled first then, rather than left pending until message-timeout.
            for (int j = batch.size() - 1; j > next; j--) {
                held.addFirst(batch.get(j));
            }
            throw e;
        } finally {
            batchLeft = 0;
            if (!done || stopping || breaker.state() != CircuitBreaker.State.CLOSED) {
                sendAcks();
            }
            // else the acks go with the next read
        }
        return batch.size();
    }

    /**
     * With workers: one read into the window, as much as it has room for, with the acks of what finished. While
     * messages are in flight the read does not block, and an empty one waits for a message to finish.
     */
    private int readCycle() {
        CircuitBreaker.State circuit = breaker.state();
        if (circuit == CircuitBreaker.State.OPEN) {
            return 0;
        }
        int expired = window.expire(MAX_AWAIT_REDELIVERY_NANOS);
        if (expired > 0) {
            LOG.log(Level.WARNING, "{0}: {1} rejected message(s) did not come back within {2} s (given to another "
                    + "consumer, or dead-lettered); the later messages of their keys go on", this, expired,
                    TimeUnit.NANOSECONDS.toSeconds(MAX_AWAIT_REDELIVERY_NANOS));
        }
        int room = window.room();
        // Reads wait for room for a useful batch, not one message at a time.
        int worthReading = Math.min(settings.batchSize(), Math.max(1, concurrency.maxInFlight() / 4));
        boolean stuck = room < worthReading && window.stuck();
        if (stuck && room > 0) {
            worthReading = room;
        }
        if (room < worthReading) {
            long now = System.nanoTime();
            if (!stuck || now - nextStuckRead < 0) {
                // Full: nothing is read until there is room for a batch worth reading.
                awaitRoom(worthReading);
                if (window.acksOlderThan(MAX_ACK_DELAY_NANOS)) {
                    flushAcks();
                }
                state = LoopStatus.State.RUNNING;
                lastCycle = Instant.now();
                return 1;
            }
            // Every held message waits for a rejected head: one more, so that the redeliveries can come in.
            nextStuckRead = now + STUCK_READ_INTERVAL_NANOS;
            room = 1;
        }
        int max = circuit == CircuitBreaker.State.HALF_OPEN ? 1 : Math.min(settings.batchSize(), room);
        boolean idle = window.held() == 0;
        List<Message> batch = broker.read(stream, group, max,
                blocking && idle ? settings.blockTimeout() : Duration.ZERO, window.takeAcks());
        state = circuit == CircuitBreaker.State.HALF_OPEN ? LoopStatus.State.HALF_OPEN : LoopStatus.State.RUNNING;
        lastCycle = Instant.now();
        lastError = null;
        window.add(batch);
        runQuick();
        if (batch.isEmpty() && !idle) {
            // Nothing more for now: read again when all is done (then blocking), or in a moment with the acks.
            awaitRoom(Integer.MAX_VALUE);
            return 1;
        }
        return batch.size();
    }

    /** Runs ready messages in the reader's thread while their handlers are quick: no hand-over costs more. */
    private void runQuick() {
        long last = 0;
        for (InFlight.Entry entry; !stopping && (entry = window.takeQuick(last)) != null; ) {
            long started = System.nanoTime();
            run(entry);
            last = Math.max(1, System.nanoTime() - started);
        }
    }

    private void awaitRoom(int room) {
        try {
            window.awaitRoom(room, MAX_ACK_DELAY_NANOS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopping = true;
        }
    }

    /** Sends the acks waiting, of either kind of loop. */
    private void flushAcks() {
        sendAcks();
        if (window != null) {
            List<String> ids = window.takeAcks();
            if (!ids.isEmpty()) {
                broker.ackAll(stream, ids, group);
            }
        }
    }

    /** A worker: takes ready messages from the window and runs their handlers, until the loop stops. */
    private void work() {
        long last = 0;
        while (true) {
            InFlight.Entry entry;
            try {
                entry = window.take(last);
            } catch (InterruptedException e) {
                return;
            }
            if (entry == null) {
                return;
            }
            long started = System.nanoTime();
            run(entry);
            last = Math.max(1, System.nanoTime() - started);
        }
    }

    /**
     * Handles one message of the window's, in a worker or the loop's thread; what escapes (an OutOfMemoryError, a
     * bug) ends neither it nor the loop.
     */
    private void run(InFlight.Entry entry) {
        try {
            handle(entry);
        } catch (Throwable e) {
            // The message is left unacknowledged (the broker delivers it again) and the worker goes on.
            window.done(entry, false);
            try {
                lastError = BrokerSettings.maskUserInfo(e.getClass().getName()
                        + (e.getMessage() == null ? "" : ": " + e.getMessage()));
                LOG.log(Level.ERROR, () -> this + ": a worker failed on message " + id(entry.message()) + " ("
                        + lastError + "); left unacknowledged, to be delivered again", e);
            } catch (Throwable ignored) {
                // nothing more to do
            }
        }
    }

    /** What {@link #process} does, for a worker: the outcome goes to the window. */
    private void handle(InFlight.Entry entry) {
        Message message = entry.message();
        if (byStream && !((dev.courier.spi.AbstractBroker) broker).mayStart(stream, group, message)) {
            window.done(entry, false); // its partition may have moved: left for the broker to deliver again
            return;
        }
        List<Handler> matching = matching(message);
        if (matching.isEmpty()) {
            skipped.increment();
            logSkipped(message);
            window.done(entry, acknowledges);
            return;
        }
        Telemetry.Process observed = observer.start(message);
        long started = System.nanoTime();
        Throwable failure = null;
        Message outer = CurrentMessage.set(message);
        try {
            Object[] arguments;
            try {
                arguments = bind(message, matching, observed);
            } catch (PayloadBinder.BindingException e) {
                failure = e;
                window.done(entry, false);
                return;
            }
            Handler running = null;
            try {
                for (int i = 0; i < arguments.length; i++) {
                    running = matching.get(i);
                    running.subscription().invoker().invoke(arguments[i]);
                }
            } catch (OutOfMemoryError e) {
                failure = e;
                throw e;
            } catch (Throwable e) {
                // A StackOverflowError included (its stack is unwound by now): a failed handling.
                failure = e;
                if (window.abandoned()) {
                    window.done(entry, false); // the stop gave up on it: left pending, to be delivered again
                    return;
                }
                breaker.failed(e);
                // Awaited before the broker is told: the redelivery may be read as soon as the nack is done.
                window.rejected(entry, acknowledges && redeliversAfterNack(message));
                try {
                    reject(message, running, e, observed);
                } catch (RuntimeException notRejected) {
                    // Not rejected: it comes again after message-timeout, or at this consumer's next start.
                    window.notComing(message);
                    LOG.log(Level.WARNING, "{0}: rejecting message {1} failed ({2}); it stays pending", this,
                            id(message), BrokerSettings.maskUserInfo(String.valueOf(notRejected)));
                }
                return;
            }
        } finally {
            CurrentMessage.set(outer);
            timed(observed, started, failure);
        }
        handled.increment();
        if (breaker.succeeded()) {
            LOG.log(Level.INFO, "{0}: the probe succeeded; circuit closed, consuming again", this);
        }
        window.done(entry, acknowledges);
    }

    /** The handlers that want the message: all of them, without a list per message, when none names a type. */
    private List<Handler> matching(Message message) {
        if (anyType) {
            return handlers;
        }
        List<Handler> matching = new ArrayList<>(handlers.size());
        for (Handler handler : handlers) {
            if (handler.wants(message)) {
                matching.add(handler);
            }
        }
        return matching;
    }

    /** Queues the ack of a message whose handling is done; {@link #sendAcks} sends it. */
    private void acknowledge(Message message) {
        if (acknowledges) {
            if (toAck.isEmpty()) {
                oldestUnackedAt = System.nanoTime();
            }
            toAck.add(message.id());
        }
    }

    /** The acks waiting, taken to go with the next read. */
    private List<String> takeAcks() {
        if (toAck.isEmpty()) {
            return List.of();
        }
        List<String> ids = List.copyOf(toAck);
        toAck.clear();
        return ids;
    }

    private void sendAcks() {
        if (toAck.isEmpty()) {
            return;
        }
        List<String> ids = List.copyOf(toAck);
        // Cleared first: if the broker fails, these stay pending there and are delivered again.
        toAck.clear();
        broker.ackAll(stream, ids, group);
    }

    private void process(Message message) {
        List<Handler> matching = matching(message);
        if (matching.isEmpty()) {
            acknowledge(message);
            skipped.increment();
            logSkipped(message);
            return;
        }
        Telemetry.Process observed = observer.start(message);
        long started = System.nanoTime();
        Throwable failure = null;
        // What the handlers publish meanwhile is linked to this message (DomainEvent.of).
        Message outer = CurrentMessage.set(message);
        try {
            Object[] arguments;
            try {
                arguments = bind(message, matching, observed);
            } catch (PayloadBinder.BindingException e) {
                failure = e;
                return;
            }
            inHand.set(message);
            Handler running = null;
            try {
                for (int i = 0; i < arguments.length; i++) {
                    running = matching.get(i);
                    running.subscription().invoker().invoke(arguments[i]);
                }
            } catch (OutOfMemoryError e) {
                // Not the message's failure, and too little memory may be left to reject it: the loop restarts.
                failure = e;
                throw e;
            } catch (Throwable e) {
                // Any other error of a handler, a StackOverflowError included (its stack is unwound by now), is a
                // failed handling: the message is rejected and the loop goes on.
                failure = e;
                if (inHand.compareAndSet(message, null)) {
                    if (breaker.failed(e)) {
                        hold(message, running, e);
                    } else {
                        reject(message, running, e, observed);
                    }
                }
                return;
            }
        } finally {
            CurrentMessage.set(outer);
            timed(observed, started, failure);
        }
        if (inHand.compareAndSet(message, null)) {
            acknowledge(message);
            handled.increment();
        }
        // else: the stop gave up on this message; it stays unacknowledged, to be delivered again.
        if (breaker.succeeded()) {
            LOG.log(Level.INFO, "{0}: the probe succeeded; circuit closed, consuming again ({1} held message(s) "
                    + "first)", this, held.size());
        }
    }

    /** Keeps a message whose failure opened the circuit, first in line for the probe; the broker is not told. */
    private void hold(Message message, Handler handler, Throwable error) {
        failed.increment();
        held.addFirst(message);
        LOG.log(Level.WARNING, "{0}: {1} failed on message {2} (delivery {3}): {4}; circuit open for {5} ms after {6} "
                + "consecutive failure(s): the message and the rest of its batch are held unacknowledged, nothing is "
                + "read until one of them probes at {7}", this, handler.subscription().description(), id(message),
                message.deliveryCount(), error, breaker.settings().delay().toMillis(), breaker.consecutiveFailures(),
                breaker.openUntil());
        LOG.log(Level.DEBUG, "stack trace", error);
    }

    /** Once per type (up to {@link #MAX_SKIPPED_TYPES}), so that a typo in a type can be found. */
    private void logSkipped(Message message) {
        if (!LOG.isLoggable(Level.DEBUG) || skippedTypes.size() >= MAX_SKIPPED_TYPES) {
            return;
        }
        String type = message.type();
        if (skippedTypes.add(type == null ? "" : type)) {
            LOG.log(Level.DEBUG, "{0}: no method wants messages of type {1} (message {2}); acknowledged and skipped. "
                    + "Types wanted: {3}. Further messages of this type are only counted (skipped){4}", this,
                    type == null ? "(none: no metadata.headers.type, event_type or type)" : "'" + type + "'",
                    id(message), handlers.stream().map(h -> h.subscription().type().isEmpty() ? "(any)"
                            : "'" + h.subscription().type() + "'").distinct().toList(),
                    skippedTypes.size() == MAX_SKIPPED_TYPES ? "; no further types are logged" : "");
        }
    }

    /** The handlers' arguments; a payload one of them cannot take is dead-lettered, and the exception thrown on. */
    private Object[] bind(Message message, List<Handler> matching, Telemetry.Process observed) {
        Object[] arguments = new Object[matching.size()];
        for (int i = 0; i < arguments.length; i++) {
            try {
                arguments[i] = matching.get(i).binder().bind(message);
            } catch (PayloadBinder.BindingException e) {
                deadLetter(message, matching.get(i), e.getMessage(), observed);
                throw e;
            }
        }
        return arguments;
    }

    /** Counts a handling's time, and tells the observer it ended; what fails in the observer stays there. */
    private void timed(Telemetry.Process observed, long started, Throwable failure) {
        long nanos = System.nanoTime() - started;
        handlings.increment();
        handlerNanos.add(nanos);
        longestHandling.accumulate(nanos);
        try {
            observed.end(nanos, failure);
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "telemetry failed", e);
        }
    }

    /** Whether a rejection now delivers the message again (else the broker dead-letters or discards it). */
    private boolean redeliversAfterNack(Message message) {
        return !(broker instanceof dev.courier.spi.AbstractBroker adapter)
                || adapter.redeliversAfterNack(message.deliveryCount());
    }

    /** How a message given up on is settled: dead-lettered, or discarded where the broker keeps no dead letters. */
    private Telemetry.Settlement givenUp() {
        return broker instanceof dev.courier.spi.AbstractBroker adapter && !adapter.keepsDeadLetters()
                ? Telemetry.Settlement.DISCARD : Telemetry.Settlement.DEAD_LETTER;
    }

    /** Whether a rejection past max-retries halts the message's key (partition-poison=halt) instead of settling it. */
    private boolean haltsOnPoison() {
        return broker instanceof dev.courier.spi.AbstractBroker adapter && adapter.haltsOnPoison(stream, group);
    }

    private void reject(Message message, Handler handler, Throwable error, Telemetry.Process observed) {
        failed.increment();
        nack(message, handler, error, observed);
    }

    private void nack(Message message, Handler handler, Throwable error, Telemetry.Process observed) {
        if (acknowledges) {
            LOG.log(Level.WARNING, "{0}: {1} failed on message {2} (delivery {3}); rejected, for the broker to deliver again or "
                    + "dead-letter: {4}",
                    this, handler.subscription().description(), id(message), message.deliveryCount(), error);
            LOG.log(Level.DEBUG, "stack trace", error);
            Telemetry.Settlement settlement = redeliversAfterNack(message) ? Telemetry.Settlement.NACK
                    : haltsOnPoison() ? Telemetry.Settlement.HALT : givenUp();
            Telemetry.Settle settle = observed.settle(settlement);
            try {
                broker.nack(stream, message.id(), group);
            } catch (RuntimeException e) {
                settle.end(e);
                throw e;
            }
            settle.end(null);
            if (settlement == Telemetry.Settlement.DEAD_LETTER) {
                deadLettered.increment();
            } else if (settlement == Telemetry.Settlement.HALT) {
                halted.increment();
            }
        } else {
            LOG.log(Level.ERROR, "{0}: {1} failed on message {2}; broker ''{3}'' has no ACK_NACK, so the message is "
                    + "not delivered again", this, handler.subscription().description(), id(message), broker.name());
            LOG.log(Level.ERROR, "the handler's error", error);
        }
    }

    private void deadLetter(Message message, Handler handler, String reason, Telemetry.Process observed) {
        unbindable.increment();
        Telemetry.Settlement settlement = givenUp();
        Telemetry.Settle settle = broker.hasCapability(BrokerCapability.DEAD_LETTER_QUEUE)
                ? observed.settle(settlement) : Telemetry.Settle.NONE;
        boolean moved;
        try {
            moved = broker.moveToDeadLetters(stream, message.id(), group, reason);
        } catch (RuntimeException e) {
            settle.end(e);
            throw e;
        }
        settle.end(null);
        if (moved) {
            if (settlement == Telemetry.Settlement.DEAD_LETTER) {
                deadLettered.increment();
            }
            String what = settlement == Telemetry.Settlement.DEAD_LETTER ? "dead-lettered"
                    : "discarded (enable-dlq is false)";
            LOG.log(Level.WARNING, "{0}: message {1} {2}: {3} cannot take it: {4}", this, id(message), what,
                    handler.subscription().description(), reason);
            return;
        }
        // No dead-letter queue: the broker's own policy decides, as for a failing handler.
        nack(message, handler, new IllegalArgumentException(reason), observed);
    }

    private static String id(Message message) {
        String id = message.id();
        return id.length() <= LOGGED_ID_LENGTH ? id : id.substring(0, LOGGED_ID_LENGTH) + "...";
    }

    /** Waits, returning early (and {@code true}) when the loop is stopped. */
    private boolean pause(Duration duration) {
        try {
            return stopSignal.await(duration.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }

    /** Asks the loop to stop: no more reads; the running handler is let finish. */
    void requestStop() {
        stopRequestedAt = System.nanoTime();
        stopping = true;
        stopSignal.countDown();
    }

    boolean stopping() {
        return stopping;
    }

    /** Waits for the loop's thread to end. @return whether it ended */
    boolean awaitStop(long nanos) throws InterruptedException {
        Thread t = thread;
        if (t == null) {
            state = LoopStatus.State.STOPPED;
            return true;
        }
        TimeUnit.NANOSECONDS.timedJoin(t, Math.max(0, nanos));
        return !t.isAlive();
    }

    /**
     * Gives up on a handler that outlived the shutdown timeout: its message will be neither acknowledged nor
     * rejected (the broker delivers it again), and its thread is interrupted.
     *
     * @return the abandoned message, or {@code null}
     */
    Message abandon() {
        Message message = inHand.getAndSet(null);
        if (window != null) {
            Message running = window.abandon();
            message = message != null ? message : running;
            workers.forEach(Thread::interrupt);
        }
        Thread t = thread;
        if (t != null) {
            t.interrupt();
        }
        return message;
    }

    LoopStatus status() {
        Instant openUntil = breaker.openUntil();
        LoopStatus.State now = state == LoopStatus.State.OPEN && openUntil == null ? LoopStatus.State.HALF_OPEN
                : state;
        int inFlight = window != null ? window.held() : batchLeft + held.size();
        int busy = window != null ? window.busy() : inHand.get() != null ? 1 : 0;
        return new LoopStatus(broker.name(), stream, group, now, lastCycle, handled.sum(), failed.sum(),
                unbindable.sum(), skipped.sum(), restarts.sum(), lastError, openUntil, inFlight, busy,
                concurrency.workers());
    }

    /** This loop's figures, with the group's lag, pending entries and consumers as {@code backlog} gives them. */
    GroupMetrics metrics(Backlog backlog) {
        Backlog.Group g = backlog.group(stream, group);
        return new GroupMetrics(broker.name(), stream, group, handled.sum(), failed.sum(), deadLettered.sum(),
                halted.sum(), reconnects.sum(), handlings.sum(), Duration.ofNanos(handlerNanos.sum()),
                Duration.ofNanos(longestHandling.get()), g.lag(), g.pending(), g.consumers());
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    @Override
    public String toString() {
        return "loop[broker=" + broker.name() + ", stream=" + stream + ", group=" + group + "]";
    }
}
