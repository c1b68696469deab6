package dev.courier;

import java.time.Instant;
import java.util.Objects;

/**
 * A stream's dead-letter queue has reached its alert depth ({@code brokers.<name>.dead-letter-alert-depth}). Courier
 * logs a WARNING and fires this as a CDI event, once per crossing: it fires again only after the depth has fallen
 * back below the threshold. Readiness data shows the alerts that stand.
 *
 * <pre>{@code
 * // brokers.default.dead-letter-alert-depth=100
 * @ApplicationScoped
 * public class DeadLetterPager {
 *     void page(@Observes DeadLetterAlert alert, Pager pager) {
 *         pager.page(alert.stream() + " has " + alert.depth() + " dead letters on broker " + alert.broker());
 *     }
 * }
 * }</pre>
 *
 * <p>The event is fired on Courier's maintenance thread, which checks the depths every
 * {@code brokers.<name>.maintenance-interval} (60 s); an observer should be quick.
 *
 * @param broker    the broker's name
 * @param stream    the stream whose dead letters crossed the threshold
 * @param depth     the number of dead letters when last checked
 * @param threshold the configured alert depth
 * @param raisedAt  when the crossing was seen
 */
public record DeadLetterAlert(String broker, String stream, long depth, long threshold, Instant raisedAt) {

    public DeadLetterAlert {
        Objects.requireNonNull(broker, "broker");
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(raisedAt, "raisedAt");
    }
}
