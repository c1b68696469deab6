package dev.courier.health;

import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.DeadLetterAlert;
import dev.courier.HealthStats;
import dev.courier.engine.Engine;
import dev.courier.engine.EngineStatus;
import dev.courier.engine.LoopStatus;

import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The result of one of Courier's health checks, without MicroProfile Health: the readiness, liveness and startup
 * checks build their responses from it, and the Java SE runner serves it over plain HTTP.
 *
 * @param name the check's name ({@value #READINESS}, {@value #LIVENESS}, {@value #STARTUP})
 * @param up   whether the check is UP
 * @param data the check's data, in order; values are {@code String}, {@code Long} or {@code Boolean}
 */
public record HealthReport(String name, boolean up, Map<String, Object> data) {

    /** The readiness check's name. */
    public static final String READINESS = "courier-brokers";
    /** The liveness check's name. */
    public static final String LIVENESS = "courier-consumers";
    /** The startup check's name. */
    public static final String STARTUP = "courier-engine";

    /** A broker that does not answer a ping within this is reported unhealthy, so a dead broker never hangs. */
    static final long PING_TIMEOUT_MILLIS = 2_000;

    /**
     * @param name the check's name
     * @param up   whether it is UP
     * @param data its data (copied)
     */
    public HealthReport {
        data = Collections.unmodifiableMap(new LinkedHashMap<>(data));
    }

    /**
     * Readiness: every broker answers a ping within 2 s and is not unhealthy (a Redis Cluster with a slot that has
     * no master, a Sentinel set failing its master over). Data per broker (keys prefixed with its name): provider,
     * status, ping latency, message counts, whether a failover is in progress (clusters and Sentinel sets), and the
     * dead-letter alerts that stand
     * ({@code <broker>.dead_letter_alert.<stream>}: the depth) and the loops whose circuit breaker is open
     * ({@code <broker>.circuit_open.<stream>/<group>}: the ms left); neither makes the check DOWN. Nothing that
     * could carry a password: no URI, no exception text, only the exception's type.
     */
    public static HealthReport readiness(Brokers brokers, Engine engine) {
        Map<String, CompletableFuture<Probe>> probes = new LinkedHashMap<>();
        for (String name : brokers.names()) {
            Broker broker = brokers.get(name);
            CompletableFuture<Probe> probe;
            try {
                probe = CompletableFuture.supplyAsync(() -> Probe.of(broker), HealthThreads.EXECUTOR);
            } catch (RejectedExecutionException e) {
                probe = CompletableFuture.completedFuture(Probe.failed("no probe thread free"));
            }
            probes.put(name, probe);
        }
        Map<String, Object> data = new LinkedHashMap<>();
        for (DeadLetterAlert alert : engine.deadLetterAlerts()) {
            data.put(alert.broker() + ".dead_letter_alert." + alert.stream(), alert.depth());
        }
        Instant now = Instant.now();
        for (LoopStatus loop : engine.status().loops()) {
            if (loop.circuitOpenUntil() != null) {
                data.put(loop.broker() + ".circuit_open." + loop.stream() + "/" + loop.group(),
                        Math.max(0, Duration.between(now, loop.circuitOpenUntil()).toMillis()));
            }
        }
        boolean up = true;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PING_TIMEOUT_MILLIS);
        for (Map.Entry<String, CompletableFuture<Probe>> entry : probes.entrySet()) {
            String name = entry.getKey();
            Probe probe = await(entry.getValue(), deadline);
            data.put(name + ".provider", brokers.get(name).provider());
            data.put(name + ".status", probe.status());
            if (probe.error() != null) {
                data.put(name + ".error", probe.error());
            }
            if (probe.reachable()) {
                data.put(name + ".ping_ms", probe.latencyMillis());
                HealthStats.MessageCounts counts = probe.stats().messageCounts();
                data.put(name + ".messages_total", counts.total());
                data.put(name + ".in_flight", counts.inFlight());
                data.put(name + ".failed", counts.failed());
                data.put(name + ".dead_lettered", counts.deadLettered());
                if (probe.stats().details().get("halted_keys") instanceof Long halted) {
                    data.put(name + ".halted_keys", halted);
                }
                if (probe.stats().details().get("group_halted_keys") instanceof Long halted) {
                    data.put(name + ".group_halted_keys", halted);
                }
                if (probe.stats().details().get("failover_in_progress") instanceof Boolean failover) {
                    data.put(name + ".failover_in_progress", failover);
                }
                // A cluster answers PING while a slot has no master (a failover): that broker cannot take writes.
                up &= probe.stats().status() != HealthStats.Status.UNHEALTHY;
            } else {
                up = false;
            }
        }
        return new HealthReport(READINESS, up, data);
    }

    /**
     * Liveness: every consumption loop is alive and cycling. A loop that has not completed a read cycle for longer
     * than {@code stuckAfter} is stuck, and the check is DOWN; so it is while a loop of a started engine is not
     * running (restarting after an error, or ended). A loop backing off from an unreachable broker is alive
     * (readiness reports the broker), and so is a loop whose circuit breaker is open (it waits on purpose; the data
     * says until when), and a stopped engine (the application is shutting down).
     */
    public static HealthReport liveness(EngineStatus status, Duration stuckAfter) {
        Map<String, Object> data = new LinkedHashMap<>();
        Instant now = Instant.now();
        int down = 0;
        for (LoopStatus loop : status.loops()) {
            String key = loop.broker() + "/" + loop.stream() + "/" + loop.group();
            data.put(key + ".state", loop.state().name().toLowerCase(Locale.ROOT));
            data.put(key + ".handled", loop.handled());
            data.put(key + ".failed", loop.failed());
            data.put(key + ".unbindable", loop.unbindable());
            data.put(key + ".skipped", loop.skipped());
            data.put(key + ".restarts", loop.restarts());
            data.put(key + ".in_flight", (long) loop.inFlight());
            data.put(key + ".busy_workers", (long) loop.busyWorkers());
            if (loop.lastCycle() != null) {
                data.put(key + ".last_cycle", loop.lastCycle().toString());
            }
            if (loop.circuitOpenUntil() != null) {
                // Open on purpose: waiting, not stuck.
                data.put(key + ".circuit_open_until", loop.circuitOpenUntil().toString());
                data.put(key + ".circuit_open_ms",
                        Math.max(0, Duration.between(now, loop.circuitOpenUntil()).toMillis()));
            }
            if (isStuck(loop, now, stuckAfter)) {
                down++;
                data.put(key + ".stuck", "no read cycle for more than " + stuckAfter.toSeconds() + " s");
            }
            String notRunning = status.started() ? notRunning(loop) : null;
            if (notRunning != null) {
                down++;
                data.put(key + ".not_running", notRunning);
            }
        }
        data.put("loops", (long) status.loops().size());
        return new HealthReport(LIVENESS, down == 0, data);
    }

    /** Why a loop of a started engine is not running, or {@code null}; the error's text stays in the log. */
    private static String notRunning(LoopStatus loop) {
        return switch (loop.state()) {
            case RESTARTING -> "ended on an error; restarting (restart " + loop.restarts() + ")";
            case STOPPED -> "ended; not running";
            default -> null;
        };
    }

    /**
     * Startup: the engine has started all its consumption loops (each past its first read, or backing off from a
     * broker that is down, which readiness reports). A disabled engine has nothing to start and is UP.
     */
    public static HealthReport startup(EngineStatus status) {
        long starting = status.loops().stream().filter(l -> l.state() == LoopStatus.State.STARTING).count();
        boolean up = !status.enabled() || status.started() && starting == 0;
        Map<String, Object> data = new LinkedHashMap<>();
        for (LoopStatus loop : status.loops()) {
            String key = loop.broker() + "/" + loop.stream() + "/" + loop.group();
            data.put(key + ".in_flight", (long) loop.inFlight());
            data.put(key + ".busy_workers", (long) loop.busyWorkers());
            data.put(key + ".concurrency", (long) loop.concurrency());
        }
        data.put("enabled", status.enabled());
        data.put("started", status.started());
        data.put("mode", status.mode().label());
        data.put("loops", (long) status.loops().size());
        data.put("starting", starting);
        return new HealthReport(STARTUP, up, data);
    }

    private static boolean isStuck(LoopStatus loop, Instant now, Duration stuckAfter) {
        // STARTING: the startup check covers it. BACKING_OFF: waiting for the broker, which readiness reports.
        return loop.state() == LoopStatus.State.RUNNING && loop.lastCycle() != null
                && Duration.between(loop.lastCycle(), now).compareTo(stuckAfter) > 0;
    }

    private static Probe await(CompletableFuture<Probe> probe, long deadline) {
        try {
            return probe.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            probe.cancel(true);
            return Probe.failed("timeout after " + PING_TIMEOUT_MILLIS + " ms");
        } catch (ExecutionException e) {
            return Probe.failed(e.getCause().getClass().getSimpleName());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Probe.failed("interrupted");
        }
    }

    /** One broker's answer: reachable with its stats and ping latency, or not with the type of error. */
    record Probe(boolean reachable, long latencyMillis, HealthStats stats, String error) {

        static Probe of(Broker broker) {
            long start = System.nanoTime();
            boolean reachable = broker.ping();
            long latency = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            if (!reachable) {
                return failed("unreachable");
            }
            return new Probe(true, latency, broker.healthStats(), null);
        }

        static Probe failed(String error) {
            return new Probe(false, -1, null, error);
        }

        String status() {
            return reachable ? stats.status().label() : HealthStats.Status.UNHEALTHY.label();
        }
    }
}
