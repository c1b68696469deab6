package dev.courier.health;

import dev.courier.engine.Engine;
import dev.courier.engine.EngineStatus;
import dev.courier.engine.LoopStatus;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.ConfigProvider;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Liveness;

import java.time.Duration;
import java.time.Instant;

/**
 * Liveness: every consumption loop is alive and cycling. A loop that has not completed a read cycle for longer than
 * {@code courier.health.stuck-after} is stuck, and the check is DOWN; so it is while a loop of a started engine is not
 * running (restarting after an error, or ended). A loop backing off from an unreachable broker is alive (readiness
 * reports the broker), and so is a loop whose circuit breaker is open (it waits on purpose; the data says until
 * when), and a stopped engine (the application is shutting down).
 */
@Liveness
@ApplicationScoped
class LoopLivenessCheck implements HealthCheck {

    static final String NAME = "courier-consumers";

    @Inject
    Engine engine;

    private Duration stuckAfter;

    @PostConstruct
    void readSettings() {
        // Checked at deployment by Courier's extension; read again here for the value.
        stuckAfter = HealthSettings.stuckAfter(ConfigProvider.getConfig());
    }

    @Override
    public HealthCheckResponse call() {
        EngineStatus status = engine.status();
        HealthCheckResponseBuilder response = HealthCheckResponse.named(NAME).up();
        Instant now = Instant.now();
        int down = 0;
        for (LoopStatus loop : status.loops()) {
            String key = loop.broker() + "/" + loop.stream() + "/" + loop.group();
            response.withData(key + ".state", loop.state().name().toLowerCase(java.util.Locale.ROOT));
            response.withData(key + ".handled", loop.handled());
            response.withData(key + ".failed", loop.failed());
            response.withData(key + ".unbindable", loop.unbindable());
            response.withData(key + ".skipped", loop.skipped());
            response.withData(key + ".restarts", loop.restarts());
            if (loop.lastCycle() != null) {
                response.withData(key + ".last_cycle", loop.lastCycle().toString());
            }
            if (loop.circuitOpenUntil() != null) {
                // Open on purpose: waiting, not stuck.
                response.withData(key + ".circuit_open_until", loop.circuitOpenUntil().toString());
                response.withData(key + ".circuit_open_ms",
                        Math.max(0, Duration.between(now, loop.circuitOpenUntil()).toMillis()));
            }
            if (isStuck(loop, now)) {
                down++;
                response.withData(key + ".stuck", "no read cycle for more than " + stuckAfter.toSeconds() + " s");
            }
            String notRunning = status.started() ? notRunning(loop) : null;
            if (notRunning != null) {
                down++;
                response.withData(key + ".not_running", notRunning);
            }
        }
        response.withData("loops", status.loops().size());
        if (down > 0) {
            response.down();
        }
        return response.build();
    }

    /** Why a loop of a started engine is not running, or {@code null}; the error's text stays in the log. */
    private static String notRunning(LoopStatus loop) {
        return switch (loop.state()) {
            case RESTARTING -> "ended on an error; restarting (restart " + loop.restarts() + ")";
            case STOPPED -> "ended; not running";
            default -> null;
        };
    }

    private boolean isStuck(LoopStatus loop, Instant now) {
        // STARTING: the startup check covers it. BACKING_OFF: waiting for the broker, which readiness reports.
        return loop.state() == LoopStatus.State.RUNNING && loop.lastCycle() != null
                && Duration.between(loop.lastCycle(), now).compareTo(stuckAfter) > 0;
    }
}
