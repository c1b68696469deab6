package dev.courier.health;

import dev.courier.Brokers;
import dev.courier.engine.Engine;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Readiness: every configured broker answers a ping within {@link #TIMEOUT_MILLIS} and is not unhealthy (as during a
 * failover). Data per broker (keys prefixed with its name): provider, status, ping latency, message counts,
 * {@code failover_in_progress} (clusters and Sentinel sets), and the dead-letter alerts that stand
 * ({@code <broker>.dead_letter_alert.<stream>}: the depth) and the loops whose circuit breaker is open
 * ({@code <broker>.circuit_open.<stream>/<group>}: the ms left); neither makes the check DOWN. Nothing that could
 * carry a password: no URI, no exception text, only the exception's type. See {@link HealthReport#readiness}.
 */
@Readiness
@ApplicationScoped
class BrokerReadinessCheck implements HealthCheck {

    static final String NAME = HealthReport.READINESS;
    /** A broker that does not answer within this is reported unhealthy, so a dead broker never hangs /health. */
    static final long TIMEOUT_MILLIS = HealthReport.PING_TIMEOUT_MILLIS;

    @Inject
    Brokers brokers;

    @Inject
    Engine engine;

    @Override
    public HealthCheckResponse call() {
        return Responses.of(HealthReport.readiness(brokers, engine));
    }
}
