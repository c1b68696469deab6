package dev.courier.engine;

import java.time.Duration;
import java.util.Objects;

/**
 * The figures of one consumption loop (broker, stream, consumer group), as {@link Engine#metrics()} gives them and
 * Courier's OpenTelemetry and MicroProfile Metrics adapters export them. Counts are since the application started.
 *
 * @param broker          the broker's name
 * @param stream          the stream
 * @param group           the consumer group
 * @param handled         messages every matching handler processed (acknowledged)
 * @param failed          handlings that threw (the message rejected, or held by an open circuit breaker)
 * @param deadLettered    messages this loop dead-lettered: payloads that cannot be bound, and rejections past
 *                        {@code max-retries}; not those dropped instead where {@code enable-dlq=false} (the
 *                        broker's health data counts them, {@code discarded}), nor those a key halted on
 * @param halted          rejections past {@code max-retries} that halted their key instead (a partitioned stream
 *                        under {@code partition-poison=halt}): the message stays at the key's head, neither
 *                        delivered again nor dead-lettered, until an operator acts ({@code dev.courier.Partitions})
 * @param reconnects      how often the loop reached its broker again after failing to
 * @param handlings       handler runs timed (successes and failures)
 * @param handlerTime     their total time
 * @param longestHandling the longest of them
 * @param lag             entries of the stream the group has not been delivered yet, as the broker reports it
 *                        (Redis 7+: {@code XINFO GROUPS} lag; where that has none, the entries after the group's
 *                        last-delivered-id, counted); {@code null} when the broker does not tell (a count past its
 *                        bound, a user without EVAL) or cannot be reached
 * @param pending         entries delivered to the group and not yet acknowledged; {@code null} when unknown
 * @param consumers       consumers of the group, all instances together; {@code null} when the broker does not tell
 */
public record GroupMetrics(String broker, String stream, String group, long handled, long failed, long deadLettered,
                           long halted, long reconnects, long handlings, Duration handlerTime, Duration longestHandling, Long lag,
                           Long pending, Integer consumers) {

    /** The figures of a loop that halted no key. */
    public GroupMetrics(String broker, String stream, String group, long handled, long failed, long deadLettered,
                        long reconnects, long handlings, Duration handlerTime, Duration longestHandling, Long lag,
                        Long pending, Integer consumers) {
        this(broker, stream, group, handled, failed, deadLettered, 0, reconnects, handlings, handlerTime,
                longestHandling, lag, pending, consumers);
    }

    public GroupMetrics {
        Objects.requireNonNull(broker, "broker");
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(handlerTime, "handlerTime");
        Objects.requireNonNull(longestHandling, "longestHandling");
    }
}
