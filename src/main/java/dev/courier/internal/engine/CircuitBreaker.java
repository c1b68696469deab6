package dev.courier.internal.engine;

import java.time.Instant;
import java.time.InstantSource;

/**
 * Counts a loop's consecutive handler failures and opens after {@link CircuitBreakerSettings#failures()} of them;
 * once {@link CircuitBreakerSettings#delay()} has passed it is half-open: the next outcome closes or opens it again.
 * The loop's thread reports outcomes; health checks read the state from theirs.
 */
final class CircuitBreaker {

    enum State { CLOSED, OPEN, HALF_OPEN }

    private final CircuitBreakerSettings settings;
    private final InstantSource clock;
    private State state = State.CLOSED;
    private int consecutive;
    private Instant openUntil;

    CircuitBreaker(CircuitBreakerSettings settings, InstantSource clock) {
        this.settings = settings;
        this.clock = clock;
    }

    CircuitBreakerSettings settings() {
        return settings;
    }

    /**
     * A handler failed. @return whether the circuit is open now (the message is to be held, not rejected): this
     * failure reached the threshold, or was the probe's; {@code false} without a breaker and for a skipped error
     */
    boolean failed(Throwable error) {
        return settings.enabled() && count(error);
    }

    private synchronized boolean count(Throwable error) {
        for (Class<? extends Throwable> skip : settings.skipOn()) {
            if (skip.isInstance(error)) {
                reset();
                return false;
            }
        }
        consecutive++;
        if (state == State.HALF_OPEN || consecutive >= settings.failures()) {
            state = State.OPEN;
            openUntil = clock.instant().plus(settings.delay());
            return true;
        }
        return false;
    }

    /** A handler succeeded. @return whether that closed a half-open circuit */
    boolean succeeded() {
        return settings.enabled() && reset();
    }

    private synchronized boolean reset() {
        boolean closing = state() == State.HALF_OPEN;
        consecutive = 0;
        state = State.CLOSED;
        openUntil = null;
        return closing;
    }

    /** The state now: an open circuit whose delay has passed is half-open. */
    State state() {
        return settings.enabled() ? currentState() : State.CLOSED;
    }

    private synchronized State currentState() {
        if (state == State.OPEN && !clock.instant().isBefore(openUntil)) {
            state = State.HALF_OPEN;
        }
        return state;
    }

    /** How long the circuit stays open still, in ms; 0 unless open. */
    synchronized long remainingMillis() {
        return state() == State.OPEN ? Math.max(1, openUntil.toEpochMilli() - clock.millis()) : 0;
    }

    /** When the open circuit turns half-open; {@code null} unless open. */
    synchronized Instant openUntil() {
        return state() == State.OPEN ? openUntil : null;
    }

    synchronized int consecutiveFailures() {
        return consecutive;
    }
}
