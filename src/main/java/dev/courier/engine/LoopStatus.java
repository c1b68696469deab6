package dev.courier.engine;

import java.time.Instant;
import java.util.Objects;

/**
 * A snapshot of one consumption loop.
 *
 * @param broker       the broker's name
 * @param stream       the stream it consumes
 * @param group        the consumer group it reads as
 * @param state        what it is doing
 * @param lastCycle    when it last read from the broker successfully (with or without messages), or {@code null}
 * @param handled      messages every matching handler processed and that were acknowledged
 * @param failed       messages a handler threw on (rejected for redelivery, or lost on a broker without ACK_NACK)
 * @param deadLettered messages the loop dead-lettered itself because their payload could not be bound; those the
 *                     broker dead-letters after {@code max-retries} are counted in the broker's health stats
 * @param skipped      messages no handler's type matched, acknowledged without processing
 * @param lastError    the type and text of the last broker error while {@link State#BACKING_OFF}, else {@code null}
 *                     (never holds a password)
 * @param circuitOpenUntil while {@link State#OPEN}: when the circuit breaker lets a probe through; else {@code null}
 */
public record LoopStatus(String broker, String stream, String group, State state, Instant lastCycle, long handled,
                         long failed, long deadLettered, long skipped, String lastError, Instant circuitOpenUntil) {

    public LoopStatus {
        Objects.requireNonNull(broker, "broker");
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(state, "state");
    }

    /**
     * Whether the loop is starting, running, or waiting on its open circuit breaker: not backing off from a broker
     * failure, not stopped.
     */
    public boolean healthy() {
        return state == State.STARTING || state == State.RUNNING || state == State.OPEN
                || state == State.HALF_OPEN;
    }

    public enum State {
        /** Created, not yet through its first read. */
        STARTING,
        /** Reading and handling messages. */
        RUNNING,
        /** The broker could not be reached or failed; waiting 1, 2, 4 ... 30 s before trying again. */
        BACKING_OFF,
        /** Stopped with the application (or never started). */
        STOPPED,
        /**
         * The circuit breaker is open after consecutive handler failures: nothing is read until
         * {@link LoopStatus#circuitOpenUntil()}; the messages of the failing batch are held unacknowledged.
         */
        OPEN,
        /** The circuit breaker's delay has passed: one message is handled as a probe. */
        HALF_OPEN
    }
}
