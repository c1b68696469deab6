package dev.courier;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A message broker: publish to named streams, consume through consumer groups, acknowledge or reject, inspect
 * capabilities and health.
 *
 * <pre>{@code
 * @Inject Broker broker;                                    // the default broker
 * @Inject @BrokerName("analytics") Broker analytics;        // a named one
 *
 * String id = broker.publish("orders", Map.of("event_type", "order.placed", "order_id", "42"));
 * for (Message message : broker.read("orders", "order-processor", 10)) {
 *     process(message.payload());
 *     broker.ack("orders", message.id(), "order-processor");
 * }
 * }</pre>
 *
 * <p>A message is a non-empty JSON object: a {@code Map<String, ?>}, a {@code String} holding a JSON object, or any
 * object that JSON-B can serialise. Anything else is refused with an {@link IllegalArgumentException} that says what
 * is wrong, and nothing is sent.
 *
 * <p>An operation that needs a capability the broker lacks does not throw: reads give nothing, {@code ack} and
 * {@code nack} give {@code false}, dead-letter operations give nothing, and a warning is logged once.
 *
 * <p>Implementations are thread-safe. Broker failures raise {@link BrokerException}, and
 * {@link BrokerConnectionException} when the broker cannot be reached.
 *
 * <p>A failed publish says whether the message was sent:
 * <ul>
 *   <li>{@link BrokerConnectionException}: <b>not sent</b> (the connection was refused, or lost before the message
 *       was written); publishing it again is safe;</li>
 *   <li>{@link PublishOutcomeUnknownException}: <b>outcome unknown</b> (the message was written, but the reply did not
 *       come within the timeout, or the connection was lost while waiting for it); it may have been stored, so
 *       publishing it again may store it twice. Courier never retries it itself;</li>
 *   <li>{@link PartialPublishException} ({@code publishAll} only): the broker answered for every message and refused
 *       some; it names the ones stored, with their ids, and the ones not stored.</li>
 * </ul>
 */
public interface Broker extends AutoCloseable {

    /** The broker's configured name, such as {@code default}. */
    String name();

    /** The provider that built it, such as {@code inline} or {@code redis}. */
    String provider();

    /** What this broker can do (unmodifiable). */
    Set<BrokerCapability> capabilities();

    default boolean hasCapability(BrokerCapability capability) {
        return capabilities().contains(capability);
    }

    default boolean hasAllCapabilities(Collection<BrokerCapability> required) {
        return capabilities().containsAll(required);
    }

    default boolean hasAllCapabilities(BrokerCapability... required) {
        return hasAllCapabilities(List.of(required));
    }

    default boolean hasAnyCapability(Collection<BrokerCapability> wanted) {
        return wanted.stream().anyMatch(capabilities()::contains);
    }

    default boolean hasAnyCapability(BrokerCapability... wanted) {
        return hasAnyCapability(List.of(wanted));
    }

    /** The highest {@link CapabilityTier} this broker fully covers, or {@code null} when it covers none. */
    default CapabilityTier tier() {
        return CapabilityTier.of(capabilities());
    }

    /**
     * Publishes a message to a stream.
     *
     * @return the message's id
     * @throws IllegalArgumentException        the stream is blank, or the message is null, empty or not a JSON object
     * @throws BrokerConnectionException       the broker could not be reached; the message was not sent
     * @throws PublishOutcomeUnknownException the message was sent but not confirmed (timeout, connection lost while
     *                                         waiting for the reply); it may or may not have been stored
     */
    String publish(String stream, Object message);

    /** The next message for a consumer group, if there is one now. */
    Optional<Message> getNext(String stream, String group);

    /**
     * Up to {@code max} messages for a consumer group, in publishing order where the broker has
     * {@link BrokerCapability#MESSAGE_ORDERING}; empty when there are none now. Never blocks.
     */
    List<Message> read(String stream, String group, int max);

    /**
     * Like {@link #read(String, String, int)}, but where the broker has {@link BrokerCapability#BLOCKING_READ} and
     * nothing is there now, waits on the broker up to {@code block} (capped by the broker: on {@code redis} by its
     * {@code block-timeout}, 1 s by default) for messages to arrive. Brokers without the capability answer at once, as {@code read} does.
     */
    default List<Message> read(String stream, String group, int max, Duration block) {
        return read(stream, group, max);
    }

    /**
     * Acknowledges {@code acknowledge} as {@link #ackAll} does, then reads as {@link #read(String, String, int,
     * Duration)} does, in one round trip where the broker can (Redis: XACK and XREADGROUP pipelined). The acks are
     * sent whether or not anything is read; if the call fails, they may be lost and the messages come again.
     */
    default List<Message> read(String stream, String group, int max, Duration block, List<String> acknowledge) {
        if (!acknowledge.isEmpty()) {
            ackAll(stream, acknowledge, group);
        }
        return read(stream, group, max, block);
    }

    /**
     * Publishes several messages to a stream, in order, in as few round trips as the broker allows. Every message is
     * checked before any is sent.
     *
     * @return the messages' ids, in order
     * @throws IllegalArgumentException        a message is not a JSON object; none was sent
     * @throws BrokerConnectionException       the broker could not be reached; none was sent
     * @throws PublishOutcomeUnknownException the messages were sent but not confirmed; any of them may have been
     *                                         stored
     * @throws PartialPublishException         the broker refused some of them (an error reply such as Redis's
     *                                         {@code OOM}): it says which were stored, with their ids, and which not
     */
    default List<String> publishAll(String stream, List<?> messages) {
        return messages.stream().map(message -> publish(stream, message)).toList();
    }

    /** Acknowledges a delivered message. {@code true} the first time; {@code false} if unknown or already done. */
    boolean ack(String stream, String id, String group);

    /**
     * Acknowledges several delivered messages of one stream and group, in as few round trips as the broker allows
     * (one XACK on Redis). Each id counts as for {@link #ack}.
     *
     * @return how many were acknowledged now (unknown or already acknowledged ids do not count)
     */
    default int ackAll(String stream, List<String> ids, String group) {
        int acknowledged = 0;
        for (String id : ids) {
            if (ack(stream, id, group)) {
                acknowledged++;
            }
        }
        return acknowledged;
    }

    /**
     * Rejects a delivered message: it is delivered again after the retry delay, and dead-lettered once it has
     * failed more than {@code max-retries} times. {@code false} if the message is not held by the group.
     */
    boolean nack(String stream, String id, String group);

    /** Whether the broker can be reached now. Never throws. */
    boolean ping();

    /** The broker's health and message counts. Never throws. */
    HealthStats healthStats();

    /** Facts about the broker and its streams and groups, for diagnostics. Never contains a password. */
    Map<String, Object> info();

    // Dead-letter queue (DEAD_LETTER_QUEUE)

    /** The dead letters of a stream, newest first, at most {@code limit}. */
    List<DeadLetter> deadLetters(String stream, int limit);

    /** One dead letter of a stream, by its dead-letter id. */
    Optional<DeadLetter> deadLetter(String stream, String deadLetterId);

    /**
     * Removes a dead letter and publishes its message to the original stream again, as a new message.
     *
     * @return whether the dead letter existed
     * @throws IllegalStateException the dead letter is not {@link DeadLetter#replayable() replayable}: it holds a
     *                               malformed entry, which stays in the dead-letter queue
     */
    boolean replayDeadLetter(String stream, String deadLetterId);

    /**
     * Replays every {@link DeadLetter#replayable() replayable} dead letter of a stream, oldest first; the others
     * stay, with a warning logged. @return how many were replayed
     */
    int replayAllDeadLetters(String stream);

    /** Deletes every dead letter of a stream. @return how many were deleted */
    int purgeDeadLetters(String stream);

    /** How many dead letters a stream has. */
    long deadLetterDepth(String stream);

    // Replay and retention

    /**
     * Moves a consumer group's position so that its next reads deliver the stream's messages from {@code fromId}
     * on, including that message ({@code "0"} for the whole history). Needs {@link BrokerCapability#REPLAY}.
     *
     * @return whether the position was moved ({@code false} where the broker lacks the capability)
     */
    default boolean replay(String stream, String group, String fromId) {
        return false;
    }

    /**
     * Removes a stream's oldest messages so that about {@code maxLength} remain, never one that a consumer group has
     * not yet read or acknowledged. Brokers that keep no history do nothing.
     *
     * @return how many messages were removed
     */
    default long trim(String stream, long maxLength) {
        return 0;
    }

    /**
     * Moves a delivered message that the group cannot process at all (a payload that cannot be bound, say) to the
     * stream's dead-letter queue at once, without the retries a {@link #nack nack} would give it. The group is done
     * with it, as after an {@link #ack ack}.
     *
     * @param reason why, kept as the dead letter's {@link DeadLetter#reason() reason}
     * @return {@code false} if the message is not held by the group, or the broker lacks
     *         {@link BrokerCapability#DEAD_LETTER_QUEUE}
     */
    boolean moveToDeadLetters(String stream, String id, String group, String reason);

    /**
     * Hands a consumer group's stranded messages to one of its consumers: on {@code redis}, the entries waiting for
     * a retry on the consumer {@code courier-retry}, and the entries held by consumers idle for longer than
     * {@code message-timeout}, are claimed (XCLAIM, keeping their delivery counts) for {@code consumer}, which gets
     * them at its next read of its own pending entries, at once, without the retry delay.
     *
     * <p>Courier consumers do this among themselves; a Protean consumer never claims another consumer's entries. So
     * when the last Courier consumer of a group shared with Protean services is retired, call this once (from any
     * Courier broker on that Redis) with the name of a Protean consumer of the group ({@code XINFO CONSUMERS}).
     *
     * @return how many messages were handed over; {@code 0} on brokers that keep no such state
     * @throws IllegalArgumentException a blank argument, or {@code consumer} is {@code courier-retry}
     */
    default int handOver(String stream, String group, String consumer) {
        return 0;
    }

    /**
     * Partitions a stream by a key field, as Protean's {@code sequential_by} does: each message goes to the stream
     * {@code <stream>:<key>}, its key being Python {@code str()} of the field (of the envelope's {@code data} for a
     * Protean event), and a consumer group's instances each own some keys, handling a key's messages in order (see
     * README, Partitioned streams). The same as {@code brokers.<name>.partition-key.<stream>=<field>}; call it before
     * publishing to or consuming the stream.
     *
     * @throws UnsupportedOperationException the broker lacks {@link BrokerCapability#STREAM_PARTITIONING}
     * @throws IllegalArgumentException      a blank argument, or the stream is partitioned by another field already
     */
    default void partitionBy(String stream, String keyField) {
        throw new UnsupportedOperationException("broker '" + name() + "' (" + provider() + ") cannot partition "
                + "stream '" + stream + "': it lacks STREAM_PARTITIONING (the redis provider has it)");
    }

    /** Releases the broker's resources. Messages not yet acknowledged stay pending where the broker keeps them. */
    @Override
    void close();
}
