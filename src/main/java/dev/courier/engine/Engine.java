package dev.courier.engine;

/**
 * Courier's consumption engine, as applications and health checks see it: injected with {@code @Inject Engine},
 * read-only.
 *
 * <pre>{@code
 * @Inject Engine engine;
 *
 * for (LoopStatus loop : engine.status().loops()) {
 *     log(loop.stream() + "/" + loop.group() + ": " + loop.state() + ", handled " + loop.handled());
 * }
 * }</pre>
 */
public interface Engine {

    /** A snapshot of the engine and of each of its consumption loops. */
    EngineStatus status();

    /**
     * The dead-letter alerts that stand: streams whose dead-letter depth reached their
     * {@code dead-letter-alert-depth} and has not fallen back below it, with the depth last seen.
     */
    default java.util.List<dev.courier.DeadLetterAlert> deadLetterAlerts() {
        return java.util.List.of();
    }

    /**
     * The figures of each consumption loop: counts and handler times, and the group's lag, pending entries and
     * consumers as the broker reports them now (on Redis, one {@code XINFO} round per stream: not for a hot path).
     * Readable with neither OpenTelemetry nor MicroProfile Metrics present.
     */
    default java.util.List<GroupMetrics> metrics() {
        return java.util.List.of();
    }
}
