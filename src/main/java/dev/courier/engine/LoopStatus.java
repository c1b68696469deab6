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
 * @param failed       messages a handler threw on, each rejected: the broker delivers it again or, past
 *                     {@code max-retries}, dead-letters it (counted in the broker's {@code deadLettered}); on a
 *                     broker without ACK_NACK it is lost
 * @param unbindable   messages whose payload could not be bound to a handler's parameter, dead-lettered by the loop
 *                     at once (rejected where the broker has no dead-letter queue); the broker counts them among its
 *                     dead letters too
 * @param skipped      messages no handler's type matched, acknowledged without processing
 * @param restarts     how often the loop ended on an error (an {@code OutOfMemoryError}, a bug) and was started again
 * @param lastError    the type and text of the last error while {@link State#BACKING_OFF} or {@link State#RESTARTING},
 *                     else {@code null} (never holds a password)
 * @param circuitOpenUntil while {@link State#OPEN}: when the circuit breaker lets a probe through; else {@code null}
 * @param inFlight     messages the loop holds now: read and not finished (running, ready, or waiting for their key)
 * @param busyWorkers  handlers running now
 * @param concurrency  handlers the loop runs at once at most
 */
public record LoopStatus(String broker, String stream, String group, State state, Instant lastCycle, long handled,
                         long failed, long unbindable, long skipped, long restarts, String lastError,
                         Instant circuitOpenUntil, int inFlight, int busyWorkers, int concurrency) {

    /** The status of a loop that handles one message at a time and holds none now. */
    public LoopStatus(String broker, String stream, String group, State state, Instant lastCycle, long handled,
                      long failed, long unbindable, long skipped, long restarts, String lastError,
                      Instant circuitOpenUntil) {
        this(broker, stream, group, state, lastCycle, handled, failed, unbindable, skipped, restarts, lastError,
                circuitOpenUntil, 0, 0, 1);
    }

    public LoopStatus {
        Objects.requireNonNull(broker, "broker");
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(state, "state");
    }

    /**
     * Whether the loop is starting, running, or waiting on its open circuit breaker: not backing off from a broker
     * failure, not restarting, not stopped.
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
        /**
         * The loop ended on an error that it does not recover from in place (an {@code OutOfMemoryError}, a bug) and
         * starts again after 1, 2, 4 ... 30 s.
         */
        RESTARTING,
        /**
         * Stopped with the application, or never started; in a started engine, ended for good (its thread is gone),
         * which liveness reports.
         */
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
