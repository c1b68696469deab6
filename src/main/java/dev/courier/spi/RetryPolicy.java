package dev.courier.spi;

import dev.courier.internal.CourierOptions;

import java.time.Duration;
import java.util.Set;

/**
 * When a rejected message comes back and when it is given up on: the options {@code max-retries},
 * {@code retry-delay}, {@code backoff-multiplier}, {@code message-timeout} and {@code enable-dlq}, with Protean's
 * defaults, declared (with their bounds) in {@code dev.courier.internal.CourierOptions} and listed in README.
 *
 * @param maxRetries        how many times a rejected message is delivered again before it is dead-lettered
 * @param retryDelay        the delay before the first redelivery
 * @param backoffMultiplier the factor applied to the delay for each further redelivery (at least 1)
 * @param messageTimeout    how long a delivered message may stay unacknowledged
 * @param deadLetterEnabled whether failed messages go to the dead-letter queue (else they are dropped, with a warning)
 */
public record RetryPolicy(int maxRetries, Duration retryDelay, double backoffMultiplier, Duration messageTimeout,
                          boolean deadLetterEnabled) {

    public static final String MAX_RETRIES = CourierOptions.MAX_RETRIES.name();
    public static final String RETRY_DELAY = CourierOptions.RETRY_DELAY.name();
    public static final String BACKOFF_MULTIPLIER = CourierOptions.BACKOFF_MULTIPLIER.name();
    public static final String MESSAGE_TIMEOUT = CourierOptions.MESSAGE_TIMEOUT.name();
    public static final String ENABLE_DLQ = CourierOptions.ENABLE_DLQ.name();

    /** The option names this policy reads. */
    public static final Set<String> OPTIONS =
            Set.of(MAX_RETRIES, RETRY_DELAY, BACKOFF_MULTIPLIER, MESSAGE_TIMEOUT, ENABLE_DLQ);

    /** The longest delay between two deliveries, however many attempts were made. */
    public static final Duration MAX_DELAY = Duration.ofHours(1);

    /** The declared defaults. */
    public static final RetryPolicy DEFAULT = from(new BrokerSettings("default", "", java.util.Map.of(), ""));

    /** The policy a broker's settings describe, the declared defaults for what is unset. */
    public static RetryPolicy from(BrokerSettings settings) {
        return new RetryPolicy(
                settings.getInt(CourierOptions.MAX_RETRIES),
                settings.getDuration(CourierOptions.RETRY_DELAY),
                settings.getDouble(CourierOptions.BACKOFF_MULTIPLIER),
                settings.getDuration(CourierOptions.MESSAGE_TIMEOUT),
                settings.getBoolean(CourierOptions.ENABLE_DLQ));
    }

    /**
     * The delay before redelivery number {@code retry} (1 for the first): {@code retryDelay * backoffMultiplier^(retry
     * - 1)}, capped at {@link #MAX_DELAY} (or at {@code retryDelay} if that is longer), and never overflowing however
     * large {@code retry} is.
     */
    public Duration delayBeforeRetry(int retry) {
        long cap = Math.max(MAX_DELAY.toNanos(), retryDelay.toNanos());
        double nanos = retryDelay.toNanos() * Math.pow(backoffMultiplier, Math.max(0, retry - 1));
        return nanos >= cap ? Duration.ofNanos(cap) : Duration.ofNanos((long) nanos);
    }

    /** Whether a message that has been rejected {@code rejections} times is to be dead-lettered. */
    public boolean exhausted(int rejections) {
        return rejections > maxRetries;
    }
}
