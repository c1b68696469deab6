package dev.courier.internal.engine;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * A consumer group loop's circuit breaker, as {@link dev.courier.Subscribe.CircuitBreaker} declares it.
 *
 * @param failures the consecutive failures that open the circuit; 0 for no breaker
 * @param delay    how long the circuit stays open before a probe
 * @param skipOn   errors that count as a success
 */
public record CircuitBreakerSettings(int failures, Duration delay, List<Class<? extends Throwable>> skipOn) {

    /** No breaker: every failure is rejected to the broker, as without one. */
    public static final CircuitBreakerSettings OFF = new CircuitBreakerSettings(0, Duration.ZERO, List.of());

    public CircuitBreakerSettings {
        Objects.requireNonNull(delay, "delay");
        skipOn = List.copyOf(skipOn);
        if (failures < 0) {
            throw new IllegalArgumentException("failures must be at least 0, was " + failures);
        }
        if (failures > 0 && (delay.isNegative() || delay.isZero())) {
            throw new IllegalArgumentException("delay must be positive, was " + delay);
        }
    }

    public boolean enabled() {
        return failures > 0;
    }
}
