package dev.courier;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A message that a consumer group gave up on, kept in the stream's dead-letter queue.
 *
 * <p>An entry that was not a readable message ({@link #MALFORMED}: no {@code data} field, data that is not a JSON
 * object, bytes that are not UTF-8) is kept as it was, byte for byte, in {@link #originalEntry()}; its
 * {@link #message()} then shows the entry as text under {@code _raw} (invalid bytes shown as U+FFFD), and it
 * cannot be replayed, since it would only be dead-lettered again: fix it from the original bytes and publish it.
 *
 * @param id            the id of this entry in the dead-letter queue (not the original message's id)
 * @param message       the original message, with its original id and stream
 * @param group         the consumer group that failed it ({@code ""} when the dead letter does not say)
 * @param consumer      the consumer that last held it, or {@code null} when unknown
 * @param reason        why it was dead-lettered: {@code max_retries_exceeded}, {@code timeout}, {@code malformed}, the
 *                      {@code too_large}, the error of a payload that could not be bound, or {@code unknown} when the
 *                      dead letter does not say
 * @param attempts      how many times it was delivered
 * @param failedAt      when it was dead-lettered
 * @param originalEntry the fields of a malformed entry exactly as they were; empty for a readable message
 */
public record DeadLetter(String id, Message message, String group, String consumer, String reason, int attempts,
                         Instant failedAt, List<EntryField> originalEntry) {

    /** Reason of a message that failed more often than {@code max-retries} allows. */
    public static final String MAX_RETRIES_EXCEEDED = "max_retries_exceeded";
    /** Reason of a message held without acknowledgement for longer than {@code message-timeout}. */
    public static final String TIMEOUT = "timeout";
    /** Reason of an entry that is not a readable message (no data, not a JSON object, not UTF-8). */
    public static final String MALFORMED = "malformed";
    /** Reason of an entry larger than the broker's {@code max-message-size}, dead-lettered without being parsed. */
    public static final String TOO_LARGE = "too_large";

    public DeadLetter {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(failedAt, "failedAt");
        originalEntry = originalEntry == null ? List.of() : List.copyOf(originalEntry);
    }

    /** A dead letter of a readable message. */
    public DeadLetter(String id, Message message, String group, String consumer, String reason, int attempts,
                      Instant failedAt) {
        this(id, message, group, consumer, reason, attempts, failedAt, List.of());
    }

    /**
     * Whether this dead letter holds a message that can be published again: it is not {@link #MALFORMED} and holds
     * no {@link #originalEntry()}.
     */
    public boolean replayable() {
        return originalEntry.isEmpty() && !MALFORMED.equals(reason);
    }

    /**
     * One field of a stream entry as the broker held it: name and value are bytes, not necessarily UTF-8. The
     * accessors give copies.
     */
    public record EntryField(byte[] name, byte[] value) {

        public EntryField {
            name = Objects.requireNonNull(name, "name").clone();
            value = Objects.requireNonNull(value, "value").clone();
        }

        @Override
        public byte[] name() {
            return name.clone();
        }

        @Override
        public byte[] value() {
            return value.clone();
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof EntryField f && java.util.Arrays.equals(name, f.name)
                    && java.util.Arrays.equals(value, f.value);
        }

        @Override
        public int hashCode() {
            return 31 * java.util.Arrays.hashCode(name) + java.util.Arrays.hashCode(value);
        }

        @Override
        public String toString() {
            return new String(name, java.nio.charset.StandardCharsets.UTF_8) + "=("
                    + value.length + " bytes)";
        }
    }
}
