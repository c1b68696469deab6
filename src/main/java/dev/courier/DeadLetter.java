package dev.courier;

import java.time.Instant;
import java.util.Objects;

/**
 * A message that a consumer group gave up on, kept in the stream's dead-letter queue.
 *
 * @param id       the id of this entry in the dead-letter queue (not the original message's id)
 * @param message  the original message, with its original id and stream
 * @param group    the consumer group that failed it
 * @param consumer the consumer that last held it, or {@code null} when unknown
 * @param reason   why it was dead-lettered: {@code max_retries_exceeded}, {@code timeout}, {@code malformed},
 *                 {@code too_large}, or the error of a payload that could not be bound
 * @param attempts how many times it was delivered
 * @param failedAt when it was dead-lettered
 */
public record DeadLetter(String id, Message message, String group, String consumer, String reason, int attempts,
                         Instant failedAt) {

    /** Reason of a message that failed more often than {@code max-retries} allows. */
    public static final String MAX_RETRIES_EXCEEDED = "max_retries_exceeded";
    /** Reason of a message held without acknowledgement for longer than {@code message-timeout}. */
    public static final String TIMEOUT = "timeout";
    /** Reason of an entry that is not a readable message (no data, not a JSON object). */
    public static final String MALFORMED = "malformed";
    /** Reason of an entry larger than the broker's {@code max-message-size}, dead-lettered without being parsed. */
    public static final String TOO_LARGE = "too_large";

    public DeadLetter {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(failedAt, "failedAt");
    }
}
