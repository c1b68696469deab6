package dev.courier.health;

import dev.courier.internal.HealthSettings;
import dev.courier.engine.Engine;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.ConfigProvider;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;

import java.time.Duration;

/**
 * Liveness: every consumption loop is alive and cycling. A loop that has not completed a read cycle for longer than
 * {@code courier.health.stuck-after} is stuck, and the check is DOWN; so it is while a loop of a started engine is not
 * running (restarting after an error, or ended). A loop backing off from an unreachable broker is alive (readiness
 * reports the broker), and so is a loop whose circuit breaker is open (it waits on purpose; the data says until
 * when), and a stopped engine (the application is shutting down). See {@link HealthReport#liveness}.
 */
@Liveness
@ApplicationScoped
class LoopLivenessCheck implements HealthCheck {

    static final String NAME = HealthReport.LIVENESS;

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
        return Responses.of(HealthReport.liveness(engine.status(), stuckAfter));
    }
}
