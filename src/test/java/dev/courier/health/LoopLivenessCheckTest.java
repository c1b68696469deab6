package dev.courier.health;

import dev.courier.engine.EngineMode;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.engine.EngineStatus;
import dev.courier.engine.LoopStatus;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Liveness from the engine's status alone: which loop states make it DOWN. */
class LoopLivenessCheckTest {

    static LoopStatus loop(String stream, LoopStatus.State state) {
        return new LoopStatus("default", stream, "g", state, Instant.now(), 0, 0, 0, 0, 0, null, null);
    }

    static HealthCheckResponse check(boolean started, LoopStatus... loops) {
        LoopLivenessCheck check = new LoopLivenessCheck();
        check.engine = () -> new EngineStatus(true, started, EngineMode.ASYNC, "c", List.of(loops));
        check.readSettings();
        return check.call();
    }

    @Test
    void a_loop_that_ended_while_its_engine_is_started_makes_liveness_down_naming_it() {
        HealthCheckResponse response = check(true, loop("orders", LoopStatus.State.RUNNING),
                loop("payments", LoopStatus.State.STOPPED));
        assertEquals(HealthCheckResponse.Status.DOWN, response.getStatus());
        assertEquals("ended; not running", response.getData().orElseThrow().get("default/payments/g.not_running"));
        assertEquals(false, response.getData().orElseThrow().containsKey("default/orders/g.not_running"));
    }

    @Test
    void a_restarting_loop_makes_liveness_down_and_a_stopped_engine_does_not() {
        assertEquals(HealthCheckResponse.Status.DOWN, check(true, loop("orders", LoopStatus.State.RESTARTING))
                .getStatus());
        assertEquals(HealthCheckResponse.Status.UP, check(false, loop("orders", LoopStatus.State.STOPPED))
                .getStatus(), "stopped with the application");
        assertEquals(HealthCheckResponse.Status.UP, check(true, loop("orders", LoopStatus.State.BACKING_OFF),
                loop("payments", LoopStatus.State.STARTING)).getStatus(), "waiting for a broker is alive");
    }
}
