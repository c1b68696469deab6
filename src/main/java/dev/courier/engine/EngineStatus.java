package dev.courier.engine;

import java.util.List;
import java.util.Objects;

/**
 * A snapshot of the engine.
 *
 * @param enabled      {@code courier.engine.enabled}; a disabled engine has no loops and never starts
 * @param started      whether the loops were started and no stop has begun
 * @param mode         {@code courier.engine.mode}
 * @param consumerName this instance's consumer name ({@code courier.consumer-name})
 * @param loops        one per (broker, stream, consumer group)
 */
public record EngineStatus(boolean enabled, boolean started, EngineMode mode, String consumerName,
                           List<LoopStatus> loops) {

    public EngineStatus {
        Objects.requireNonNull(mode, "mode");
        loops = List.copyOf(loops);
    }

    /**
     * Whether the engine is started and every loop is {@link LoopStatus#healthy() healthy}; a disabled engine, having
     * nothing to run, is healthy.
     */
    public boolean healthy() {
        return !enabled || started && loops.stream().allMatch(LoopStatus::healthy);
    }
}
