package dev.courier.health;

import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.DeadLetterAlert;
import dev.courier.HealthStats;
import dev.courier.engine.Engine;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Readiness: every configured broker answers a ping within {@link #TIMEOUT_MILLIS}. Data per broker (keys prefixed
 * with its name): provider, status, ping latency, message counts, and the dead-letter alerts that stand
 * ({@code <broker>.dead_letter_alert.<stream>}: the depth) and the loops whose circuit breaker is open
 * ({@code <broker>.circuit_open.<stream>/<group>}: the ms left); neither makes the check DOWN. Nothing that could carry a password: no URI, no
 * exception text, only the exception's type.
 */
@Readiness
@ApplicationScoped
class BrokerReadinessCheck implements HealthCheck {

    static final String NAME = "courier-brokers";
    /** A broker that does not answer within this is reported unhealthy, so a dead broker never hangs /health. */
    static final long TIMEOUT_MILLIS = 2_000;

    @Inject
    Brokers brokers;

    @Inject
    Engine engine;

    @Override
    public HealthCheckResponse call() {
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
        HealthCheckResponseBuilder response = HealthCheckResponse.named(NAME).up();
        for (DeadLetterAlert alert : engine.deadLetterAlerts()) {
            response.withData(alert.broker() + ".dead_letter_alert." + alert.stream(), alert.depth());
        }
        java.time.Instant now = java.time.Instant.now();
        for (dev.courier.engine.LoopStatus loop : engine.status().loops()) {
            if (loop.circuitOpenUntil() != null) {
                response.withData(loop.broker() + ".circuit_open." + loop.stream() + "/" + loop.group(),
                        Math.max(0, java.time.Duration.between(now, loop.circuitOpenUntil()).toMillis()));
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MILLIS);
        for (Map.Entry<String, CompletableFuture<Probe>> entry : probes.entrySet()) {
            String name = entry.getKey();
            Probe probe = await(entry.getValue(), deadline);
            response.withData(name + ".provider", brokers.get(name).provider());
            response.withData(name + ".status", probe.status());
            if (probe.error() != null) {
                response.withData(name + ".error", probe.error());
            }
            if (probe.reachable()) {
                response.withData(name + ".ping_ms", probe.latencyMillis());
                HealthStats.MessageCounts counts = probe.stats().messageCounts();
                response.withData(name + ".messages_total", counts.total());
                response.withData(name + ".in_flight", counts.inFlight());
                response.withData(name + ".failed", counts.failed());
                response.withData(name + ".dead_lettered", counts.deadLettered());
            } else {
                response.down();
            }
        }
        return response.build();
    }

    private static Probe await(CompletableFuture<Probe> probe, long deadline) {
        try {
            return probe.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            probe.cancel(true);
            return Probe.failed("timeout after " + TIMEOUT_MILLIS + " ms");
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
