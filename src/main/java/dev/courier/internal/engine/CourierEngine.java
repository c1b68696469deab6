package dev.courier.internal.engine;

import dev.courier.engine.EngineMode;
import dev.courier.engine.LoopStatus;
import dev.courier.engine.EngineStatus;
import dev.courier.engine.Engine;
import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.DeadLetterAlert;
import dev.courier.Message;
import dev.courier.engine.GroupMetrics;
import dev.courier.internal.telemetry.Telemetry;
import dev.courier.spi.AbstractBroker;
import dev.courier.spi.Maintained;
import jakarta.json.bind.Jsonb;
import jakarta.json.bind.JsonbBuilder;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The consumption engine: one {@link ConsumptionLoop} per (broker, stream, consumer group), each on its own thread.
 * Built, started and stopped by Courier's CDI extension; applications inject {@link Engine} to read its status.
 *
 * <p>Sync mode: the {@code inline} brokers of {@link #brokers()} are wrapped so that a publish takes the cycle lock
 * of every loop on that stream (in a fixed order), publishes, drains each of those loops in the publishing thread,
 * and only then returns. The loops' own threads keep running (they deliver retries), but since they read under the
 * same lock they never take a message between its publish and the publisher's drain. A publish made inside a
 * handler (nested) only drains the loops whose lock is free or its own, so that two threads can never wait on each
 * other.
 */
public final class CourierEngine implements Engine {

    private static final System.Logger LOG = System.getLogger("dev.courier.engine");

    /** The provider whose brokers publish synchronously in sync mode (named, not imported: adapters sit apart). */
    static final String INLINE = "inline";

    private final EngineSettings settings;
    private final Brokers brokers;
    private final List<ConsumptionLoop> loops;
    /** The loops of each (broker, stream), in lock order, for sync-mode publishing. */
    private final Map<String, List<ConsumptionLoop>> loopsByStream = new LinkedHashMap<>();
    private final BrokerMaintenance maintenance;
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean stopped = new AtomicBoolean();
    private volatile Jsonb jsonb;
    private final Telemetry telemetry;

    private CourierEngine(EngineSettings settings, Brokers brokers, List<Subscription> subscriptions,
                          Telemetry telemetry) {
        this.settings = settings;
        this.telemetry = telemetry;
        List<ConsumptionLoop> built = new ArrayList<>();
        if (settings.enabled()) {
            Map<List<String>, List<ConsumptionLoop.Handler>> byLoop = new LinkedHashMap<>();
            for (Subscription s : subscriptions) {
                byLoop.computeIfAbsent(List.of(s.broker(), s.stream(), s.group()), k -> new ArrayList<>())
                        .add(new ConsumptionLoop.Handler(s, PayloadBinder.of(s.parameterType(), new JsonbSupplier(this))));
            }
            byLoop.forEach((key, handlers) -> requireOneCircuitBreaker(key, handlers));
            requireKnownGroups(settings, byLoop.keySet());
            byLoop.forEach((key, handlers) -> built.add(new ConsumptionLoop(built.size(),
                    brokers.get(key.get(0)), key.get(1), key.get(2), handlers, settings,
                    concurrency(key, handlers, settings))));
        }
        this.loops = List.copyOf(built);
        for (String name : brokers.names()) {
            if (brokers.get(name) instanceof AbstractBroker adapter) {
                adapter.useTelemetry(telemetry);
            }
        }
        loops.forEach(loop -> loop.useTelemetry(telemetry));
        for (ConsumptionLoop loop : loops) {
            loopsByStream.computeIfAbsent(key(loop.broker.name(), loop.stream), k -> new ArrayList<>()).add(loop);
        }
        loopsByStream.values().forEach(list -> list.sort(Comparator.comparingInt(l -> l.order)));
        Map<String, Maintained> maintained = new LinkedHashMap<>();
        for (String name : brokers.names()) {
            if (brokers.get(name) instanceof Maintained m) {
                maintained.put(name, m);
            }
        }
        this.maintenance = new BrokerMaintenance(maintained);
        this.brokers = settings.enabled() && settings.mode() == EngineMode.SYNC ? syncBrokers(brokers)
                : brokers;
    }

    /** The methods of one loop share its circuit breaker, so they must declare the same. */
    private static void requireOneCircuitBreaker(List<String> loop, List<ConsumptionLoop.Handler> handlers) {
        Subscription first = handlers.get(0).subscription();
        for (ConsumptionLoop.Handler handler : handlers) {
            Subscription other = handler.subscription();
            if (!other.circuitBreaker().equals(first.circuitBreaker())) {
                throw new IllegalStateException("subscribers " + first.description() + " and " + other.description()
                        + " consume stream '" + loop.get(1) + "' of broker '" + loop.get(0) + "' as group '"
                        + loop.get(2) + "', in one loop, and declare different circuit breakers ("
                        + first.circuitBreaker() + ", " + other.circuitBreaker() + "); declare the same on both, "
                        + "or give them different groups");
            }
        }
    }

    /** How a loop runs its handlers: what its methods declare (the same on each), under what configuration says. */
    private static Concurrency concurrency(List<String> loop, List<ConsumptionLoop.Handler> handlers,
                                           EngineSettings settings) {
        Subscription first = handlers.get(0).subscription();
        for (ConsumptionLoop.Handler handler : handlers) {
            Subscription other = handler.subscription();
            if (!other.concurrency().equals(first.concurrency())) {
                throw new IllegalStateException("subscribers " + first.description() + " and " + other.description()
                        + " consume stream '" + loop.get(1) + "' of broker '" + loop.get(0) + "' as group '"
                        + loop.get(2) + "', in one loop, and declare different concurrency, ordering, key or "
                        + "max-in-flight (" + first.concurrency() + ", " + other.concurrency() + "); declare the "
                        + "same on both, set them in " + EngineSettings.PREFIX + EngineSettings.SUBSCRIBERS
                        + loop.get(2) + ".*, or give them different groups");
            }
        }
        return first.concurrency().resolve(settings.subscriber(loop.get(2)), settings.concurrency(),
                settings.batchSize());
    }

    /** A courier.subscribers.<group>.* setting names a group that some subscriber consumes as. */
    private static void requireKnownGroups(EngineSettings settings, java.util.Set<List<String>> loops) {
        java.util.Set<String> groups = new java.util.TreeSet<>();
        loops.forEach(key -> groups.add(key.get(2)));
        for (String group : settings.subscribers().keySet()) {
            if (!groups.contains(group)) {
                throw new IllegalStateException(EngineSettings.PREFIX + EngineSettings.SUBSCRIBERS + group
                        + ".*: no subscriber consumes as group '" + group + "'; the groups are " + groups);
            }
        }
    }

    /** Who hears of a dead-letter alert (Courier's CDI extension fires it as an event); call before start. */
    public void onDeadLetterAlert(Consumer<DeadLetterAlert> listener) {
        maintenance.onAlert(listener);
    }

    @Override
    public List<DeadLetterAlert> deadLetterAlerts() {
        return maintenance.alerts();
    }

    /**
     * Builds an engine over the given brokers (not started).
     *
     * @param subscriptions validated subscriber methods: each names a broker of {@code brokers} and a parameter type
     *                      without {@link Subscription#bindingProblem binding problem}
     * @throws IllegalStateException a subscriber needs JSON-B and none is available
     */
    public static CourierEngine create(EngineSettings settings, Brokers brokers, List<Subscription> subscriptions) {
        return create(settings, brokers, subscriptions, Telemetry.NONE);
    }

    /**
     * Builds an engine whose brokers and loops report to {@code telemetry} (traces, metrics); not started.
     *
     * @see #create(EngineSettings, Brokers, List)
     */
    public static CourierEngine create(EngineSettings settings, Brokers brokers, List<Subscription> subscriptions,
                                       Telemetry telemetry) {
        CourierEngine engine = new CourierEngine(settings, brokers, subscriptions,
                telemetry == null ? Telemetry.NONE : telemetry);
        boolean needsJsonb = engine.loops.stream().anyMatch(ConsumptionLoop::usesJsonb);
        if (needsJsonb) {
            // Created now, on the deploying thread, so that a missing JSON-B fails the deployment, not the messages.
            engine.jsonb();
        }
        return engine;
    }

    /** The brokers to hand to the application: in sync mode, its inline brokers publish synchronously. */
    public Brokers brokers() {
        return brokers;
    }

    public EngineSettings settings() {
        return settings;
    }

    /**
     * Starts every loop. Call it on a thread of the application, once the application has started: the server's
     * ManagedThreadFactory is looked up there.
     */
    public void start() {
        if (stopped.get()) {
            return;
        }
        // Retention and alerts concern the brokers: they run even where courier.engine.enabled is false.
        maintenance.start();
        if (!settings.enabled() || !started.compareAndSet(false, true)) {
            return;
        }
        if (!loops.isEmpty()) {
            telemetry.watch(this::metrics);
        }
        ThreadFactory threads = Threads.lookup();
        claimLoops();
        for (ConsumptionLoop loop : loops) {
            loop.start(threads);
        }
        if (!loops.isEmpty()) {
            LOG.log(Level.INFO, "Courier engine started: {0} consumption loop(s) as consumer ''{1}'', mode {2}",
                    loops.size(), settings.consumerName(), settings.mode().label());
        }
    }

    /**
     * Each loop claims its group on its broker before any starts, so that a group one loop must consume alone (a
     * partitioned stream's) fails the start, naming it, instead of two loops splitting its keys' messages.
     */
    private void claimLoops() {
        List<ConsumptionLoop> claimed = new ArrayList<>();
        try {
            for (ConsumptionLoop loop : loops) {
                if (loop.broker instanceof AbstractBroker adapter) {
                    adapter.claimLoop(loop.stream, loop.group, loop);
                    claimed.add(loop);
                }
            }
        } catch (RuntimeException e) {
            claimed.forEach(CourierEngine::releaseLoop);
            started.set(false);
            throw e;
        }
    }

    private static void releaseLoop(ConsumptionLoop loop) {
        if (loop.broker instanceof AbstractBroker adapter) {
            adapter.releaseLoop(loop.stream, loop.group, loop);
        }
    }

    /**
     * Stops every loop: no more reads; handlers that are running may finish within {@code shutdown-timeout} and are
     * then acknowledged; messages read but not handled stay unacknowledged, for redelivery. Returns within about the
     * shutdown timeout whatever the handlers do: a handler still running then is interrupted and its message left
     * unacknowledged. Idempotent.
     */
    public void stop() {
        if (!stopped.compareAndSet(false, true)) {
            return;
        }
        maintenance.stop();
        try {
            telemetry.close();
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "closing telemetry failed", e);
        }
        loops.forEach(ConsumptionLoop::requestStop);
        long deadline = System.nanoTime() + settings.shutdownTimeout().toNanos();
        boolean interrupted = false;
        for (ConsumptionLoop loop : loops) {
            try {
                if (!loop.awaitStop(deadline - System.nanoTime())) {
                    abandon(loop);
                }
            } catch (InterruptedException e) {
                interrupted = true;
                abandon(loop);
            }
        }
        loops.forEach(CourierEngine::releaseLoop);
        started.set(false);
        Jsonb current = jsonb;
        if (current != null) {
            try {
                current.close();
            } catch (Exception e) {
                LOG.log(Level.DEBUG, "closing JSON-B failed", e);
            }
        }
        if (!loops.isEmpty()) {
            LOG.log(Level.INFO, "Courier engine stopped");
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void abandon(ConsumptionLoop loop) {
        Message left = loop.abandon();
        if (left == null) {
            // No handler ran: the loop is in a call to the broker, typically a blocking read (block-timeout may be
            // longer than shutdown-timeout). Nothing is lost: what that read returns is left unacknowledged.
            LOG.log(Level.INFO, "{0}: still in a call to the broker at courier.engine.shutdown-timeout ({1} ms); it "
                    + "ends when the call returns, leaving what it read unacknowledged", loop,
                    settings.shutdownTimeout().toMillis());
            return;
        }
        LOG.log(Level.WARNING, "{0}: a handler outlived courier.engine.shutdown-timeout ({1} ms) and was interrupted;"
                + " message {2} is left unacknowledged, to be delivered again", loop,
                settings.shutdownTimeout().toMillis(), left.id());
    }

    @Override
    public EngineStatus status() {
        List<LoopStatus> statuses = new ArrayList<>(loops.size());
        loops.forEach(loop -> statuses.add(loop.status()));
        // Not started any more once a stop has begun: loops that stop then are not dead ones.
        return new EngineStatus(settings.enabled(), started.get() && !stopped.get(), settings.mode(),
                settings.consumerName(), statuses);
    }

    @Override
    public List<GroupMetrics> metrics() {
        Map<String, Backlog> backlogs = new LinkedHashMap<>();
        List<GroupMetrics> metrics = new ArrayList<>(loops.size());
        for (ConsumptionLoop loop : loops) {
            metrics.add(loop.metrics(backlogs.computeIfAbsent(loop.broker.name(), n -> Backlog.of(loop.broker))));
        }
        return metrics;
    }

    /** Publishes through {@code publish} and runs the stream's subscribers in this thread before returning. */
    <T> T publishSynchronously(Broker broker, String stream, Supplier<T> publish) {
        List<ConsumptionLoop> targets = loopsByStream.getOrDefault(key(broker.name(), stream), List.of());
        if (targets.isEmpty() || stopped.get()) {
            return publish.get();
        }
        boolean nested = loops.stream().anyMatch(loop -> loop.cycleLock.isHeldByCurrentThread());
        List<ConsumptionLoop> locked = new ArrayList<>(targets.size());
        try {
            for (ConsumptionLoop loop : targets) {
                // At top level wait for each lock, in lock order; inside a handler never wait, so no two threads
                // can wait on each other. A loop whose lock another thread holds delivers the message itself.
                if (nested ? loop.cycleLock.tryLock() : lock(loop)) {
                    locked.add(loop);
                }
            }
            T result = publish.get();
            for (ConsumptionLoop loop : locked) {
                loop.drain();
            }
            return result;
        } finally {
            locked.forEach(loop -> loop.cycleLock.unlock());
        }
    }

    private static boolean lock(ConsumptionLoop loop) {
        loop.cycleLock.lock();
        return true;
    }

    private Brokers syncBrokers(Brokers original) {
        Map<String, Broker> wrapped = new LinkedHashMap<>();
        for (String name : original.names()) {
            Broker broker = original.get(name);
            wrapped.put(name, INLINE.equals(broker.provider())
                    ? new SyncPublishingBroker(broker, this) : broker);
        }
        return new Brokers(wrapped);
    }

    private Jsonb jsonb() {
        Jsonb result = jsonb;
        if (result == null) {
            synchronized (this) {
                result = jsonb;
                if (result == null) {
                    try {
                        result = JsonbBuilder.create();
                    } catch (RuntimeException | LinkageError e) {
                        throw new IllegalStateException("a subscriber's parameter is bound with JSON-B, and no JSON-B "
                                + "implementation is available (Open Liberty: feature jsonb-3.0; Java SE: Yasson); "
                                + "declare the parameter as Message, Map<String, Object> or String instead: " + e, e);
                    }
                    jsonb = result;
                }
            }
        }
        return result;
    }

    /**
     * The engine's JSON-B, for binders. A class rather than {@code this::jsonb}: a method reference would load the
     * JSON-B API when the engine is built, and Java SE applications whose subscribers take {@code Message},
     * {@code Map} or {@code String} need none.
     */
    private static final class JsonbSupplier implements Supplier<Jsonb> {
        private final CourierEngine engine;

        JsonbSupplier(CourierEngine engine) {
            this.engine = engine;
        }

        @Override
        public Jsonb get() {
            return engine.jsonb();
        }
    }

    private static String key(String broker, String stream) {
        return broker + '\u0000' + stream;
    }

    @Override
    public String toString() {
        return "CourierEngine[" + loops + "]";
    }
}
