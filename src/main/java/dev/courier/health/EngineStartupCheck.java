package dev.courier.health;

import dev.courier.engine.Engine;
import dev.courier.engine.EngineStatus;
import dev.courier.engine.LoopStatus;
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

    static final String NAME = "courier-engine";

    @Inject
    Engine engine;

    @Override
    public HealthCheckResponse call() {
        EngineStatus status = engine.status();
        long starting = status.loops().stream().filter(l -> l.state() == LoopStatus.State.STARTING).count();
        boolean up = !status.enabled() || status.started() && starting == 0;
        var response = HealthCheckResponse.named(NAME);
        for (LoopStatus loop : status.loops()) {
            String key = loop.broker() + "/" + loop.stream() + "/" + loop.group();
            response.withData(key + ".in_flight", loop.inFlight())
                    .withData(key + ".busy_workers", loop.busyWorkers())
                    .withData(key + ".concurrency", loop.concurrency());
        }
        return response
                .status(up)
                .withData("enabled", status.enabled())
                .withData("started", status.started())
                .withData("mode", status.mode().label())
                .withData("loops", status.loops().size())
                .withData("starting", starting)
                .build();
    }
}
