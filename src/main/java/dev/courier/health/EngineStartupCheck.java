package dev.courier.health;

import dev.courier.engine.Engine;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.Startup;

/**
 * Startup: the engine has started all its consumption loops (each past its first read, or backing off from a
 * broker that is down, which readiness reports). A disabled engine has nothing to start and is UP.
 */
@Startup
@ApplicationScoped
class EngineStartupCheck implements HealthCheck {

    static final String NAME = HealthReport.STARTUP;

    @Inject
    Engine engine;

    @Override
    public HealthCheckResponse call() {
        return Responses.of(HealthReport.startup(engine.status()));
    }
}
