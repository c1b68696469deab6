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
}
