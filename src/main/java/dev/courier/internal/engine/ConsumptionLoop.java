package dev.courier.internal.engine;

import dev.courier.engine.LoopStatus;
import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.Message;
import dev.courier.engine.GroupMetrics;
import dev.courier.internal.telemetry.Telemetry;
import dev.courier.spi.AbstractBroker;
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

    /** Message ids in the log are cut to this length: a broker may let a stream use long ids. */
    private static final int LOGGED_ID_LENGTH = 100;

    final int order;
    final Broker broker;
    final String stream;
    final String group;
    private final Rejections rejections;
    private final Handlers handlers;
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
    /** With workers: the read ahead last allowed ({@link AbstractBroker#readAhead}); -1 before the first read. */
    private int readAheadRoom = -1;
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
    private final LongAdder restarts = new LongAdder();
    private final LongAdder reconnects = new LongAdder();
    /** Told of reconnections (and, through {@link #handlers}, of each handling); set before the loop starts. */
    private Telemetry.Processing observer = Telemetry.Processing.NONE;
    /** The wait before the next restart after the loop ended on an error; only the loop's thread touches it. */
    private long restartPauseMillis = MIN_RECONNECT_PAUSE.toMillis();
    /** Handled messages whose ack is not sent yet; only the thread in a cycle (holding cycleLock) touches it. */
    private final Acks toAck = new Acks();

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
        this.rejections = new Rejections(broker, stream, group, this);
        this.handlers = new Handlers(handlers, rejections, this);
        this.settings = settings;
        this.blocking = broker.hasCapability(BrokerCapability.BLOCKING_READ);
        this.acknowledges = broker.hasCapability(BrokerCapability.ACK_NACK);
        this.breaker = new CircuitBreaker(this.handlers.first().subscription().circuitBreaker(),
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
        handlers.observe(observer);
    }

    boolean usesJsonb() {
        return handlers.usesJsonb();
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
        if (window != null && broker instanceof AbstractBroker adapter
                && adapter.keepsOrderPerStream(stream, group)) {
            byStream = true;
            window.keyByStream();
        }
        if (window == null && broker instanceof AbstractBroker adapter) {
            // One batch at a time: what the window holds beside it may be read ahead while it is handled.
            int ahead = concurrency.maxInFlight() - batchMax();
            if (ahead > 0) {
                adapter.readAhead(stream, group, ahead);
            }
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
            }
            flushAcks();
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
        int max = probe ? 1 : batchMax();
        List<Message> batch;
        if (!held.isEmpty()) {
            sendAcks();
            batch = new ArrayList<>(max);
            while (batch.size() < max && !held.isEmpty()) {
                batch.add(held.pollFirst());
            }
        } else {
            // The last batch's acks ride with this read.
            batch = broker.read(stream, group, max, blocking ? settings.blockTimeout() : Duration.ZERO, toAck.take());
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
                if (toAck.olderThan(MAX_ACK_DELAY_NANOS)) {
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

    /** The most messages a read of one handler at a time asks for. */
    private int batchMax() {
        return Math.min(settings.batchSize(), concurrency.maxInFlight());
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
        // What the window has room for beside this read may be read ahead while it is handled (quick handlers run
        // in this thread, one batch after the other, as a sequential loop does).
        int ahead = room - max;
        if (ahead != readAheadRoom && broker instanceof AbstractBroker adapter) {
            adapter.readAhead(stream, group, ahead);
            readAheadRoom = ahead;
        }
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
        long now = System.nanoTime();
        for (InFlight.Entry entry; !stopping && (entry = window.takeQuick(last, now)) != null; ) {
            run(entry);
            long end = System.nanoTime();
            last = Math.max(1, end - now);
            now = end;
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

    /** Runs a message's handlers in a worker (or the loop's thread): the outcome goes to the window. */
    private void handle(InFlight.Entry entry) {
        Message message = entry.message();
        if (byStream && !((AbstractBroker) broker).mayStart(stream, group, message)) {
            window.done(entry, false); // its partition may have moved: left for the broker to deliver again
            return;
        }
        Handlers.Outcome outcome = handlers.run(message, (handler, error, observed) -> {
            if (window.abandoned()) {
                window.done(entry, false); // the stop gave up on it: left pending, to be delivered again
                return;
            }
            breaker.failed(error);
            // Awaited before the broker is told: the redelivery may be read as soon as the nack is done.
            window.rejected(entry, acknowledges && rejections.redeliversAfterNack(message));
            try {
                rejections.reject(message, handler, error, observed);
            } catch (RuntimeException notRejected) {
                // Not rejected: it comes again after message-timeout, or at this consumer's next start.
                window.notComing(message);
                LOG.log(Level.WARNING, "{0}: rejecting message {1} failed ({2}); it stays pending", this,
                        id(message), BrokerSettings.maskUserInfo(String.valueOf(notRejected)));
            }
        });
        switch (outcome) {
            case SKIPPED -> window.done(entry, acknowledges);
            case UNBINDABLE -> window.done(entry, false);
            case HANDLED -> {
                handled.increment();
                if (breaker.succeeded()) {
                    LOG.log(Level.INFO, "{0}: the probe succeeded; circuit closed, consuming again", this);
                }
                window.done(entry, acknowledges);
            }
            case FAILED -> {
                // settled during the run
            }
        }
    }

    /** Queues the ack of a message whose handling is done; {@link #sendAcks} sends it. */
    private void acknowledge(Message message) {
        if (acknowledges) {
            toAck.add(message.id());
        }
    }

    private void sendAcks() {
        List<String> ids = toAck.take();
        if (!ids.isEmpty()) {
            broker.ackAll(stream, ids, group);
        }
    }

    /** Runs a message's handlers in the cycle's thread; the ack waits in {@link #toAck}, a failure may hold it. */
    private void process(Message message) {
        inHand.set(message);
        Handlers.Outcome outcome = handlers.run(message, (handler, error, observed) -> {
            if (inHand.compareAndSet(message, null)) {
                if (breaker.failed(error)) {
                    hold(message, handler, error);
                } else {
                    rejections.reject(message, handler, error, observed);
                }
            }
        });
        if (outcome == Handlers.Outcome.UNBINDABLE || outcome == Handlers.Outcome.FAILED) {
            inHand.compareAndSet(message, null);
            return;
        }
        if (!inHand.compareAndSet(message, null)) {
            return; // the stop gave up on this message; it stays unacknowledged, to be delivered again
        }
        acknowledge(message);
        if (outcome == Handlers.Outcome.HANDLED) {
            handled.increment();
            if (breaker.succeeded()) {
                LOG.log(Level.INFO, "{0}: the probe succeeded; circuit closed, consuming again ({1} held message(s) "
                        + "first)", this, held.size());
            }
        }
    }

    /** Keeps a message whose failure opened the circuit, first in line for the probe; the broker is not told. */
    private void hold(Message message, Handler handler, Throwable error) {
        rejections.failed.increment();
        held.addFirst(message);
        LOG.log(Level.WARNING, "{0}: {1} failed on message {2} (delivery {3}): {4}; circuit open for {5} ms after {6} "
                + "consecutive failure(s): the message and the rest of its batch are held unacknowledged, nothing is "
                + "read until one of them probes at {7}", this, handler.subscription().description(), id(message),
                message.deliveryCount(), error, breaker.settings().delay().toMillis(), breaker.consecutiveFailures(),
                breaker.openUntil());
        LOG.log(Level.DEBUG, "stack trace", error);
    }

    /** A message's id as the log shows it: cut, as a broker may let a stream use long ids. */
    static String id(Message message) {
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
        return new LoopStatus(broker.name(), stream, group, now, lastCycle, handled.sum(), rejections.failed.sum(),
                rejections.unbindable.sum(), handlers.skipped.sum(), restarts.sum(), lastError, openUntil, inFlight, busy,
                concurrency.workers());
    }

    /** This loop's figures, with the group's lag, pending entries and consumers as {@code backlog} gives them. */
    GroupMetrics metrics(Backlog backlog) {
        Backlog.Group g = backlog.group(stream, group);
        return new GroupMetrics(broker.name(), stream, group, handled.sum(), rejections.failed.sum(),
                rejections.deadLettered.sum(), rejections.halted.sum(), reconnects.sum(), handlers.handlings.sum(),
                Duration.ofNanos(handlers.handlerNanos.sum()), Duration.ofNanos(handlers.longestHandling.get()),
                g.lag(), g.pending(), g.consumers());
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    @Override
    public String toString() {
        return "loop[broker=" + broker.name() + ", stream=" + stream + ", group=" + group + "]";
    }
}
