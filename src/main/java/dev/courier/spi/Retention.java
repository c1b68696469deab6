package dev.courier.spi;

import dev.courier.internal.CourierOptions;

import java.time.Duration;
import java.util.Set;

/**
 * How much of a stream a broker keeps once every consumer group is done with it: the options {@code max-length} (a
 * count of entries) and {@code retention} (an age). Neither ever removes an entry that a known group has not read
 * or, where the broker tracks acknowledgements, not yet acknowledged.
 *
 * @param maxLength the entries kept, about; 0 means no limit by count on brokers that keep everything by default
 *                  ({@code redis}), and none kept past the groups on {@code inline}
 * @param maxAge    entries older than this are removed; {@link Duration#ZERO} means no limit by age
 */
public record Retention(long maxLength, Duration maxAge) {

    public static final String MAX_LENGTH = CourierOptions.MAX_LENGTH.name();
    public static final String RETENTION = CourierOptions.RETENTION.name();

    /** The option names this record reads. */
    public static final Set<String> OPTIONS = Set.of(MAX_LENGTH, RETENTION);

    /** The retention a broker's settings describe, with the provider's default count. */
    public static Retention from(BrokerSettings settings, int defaultMaxLength) {
        return from(settings, CourierOptions.MAX_LENGTH.withDefault(String.valueOf(defaultMaxLength)));
    }

    /** The retention a broker's settings describe, with the count as {@code maxLength} declares it. */
    public static Retention from(BrokerSettings settings, Option maxLength) {
        return new Retention(settings.getInt(maxLength), settings.getDuration(CourierOptions.RETENTION));
    }

    /** Whether entries are removed by age. */
    public boolean byAge() {
        return !maxAge.isZero();
    }
}
