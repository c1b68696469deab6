package dev.courier.spi;

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

    public static final String MAX_LENGTH = "max-length";
    public static final String RETENTION = "retention";

    /** The option names this record reads. */
    public static final Set<String> OPTIONS = Set.of(MAX_LENGTH, RETENTION);

    /** The retention a broker's settings describe, with the provider's default count. */
    public static Retention from(BrokerSettings settings, int defaultMaxLength) {
        return new Retention(settings.getInt(MAX_LENGTH, defaultMaxLength, 0),
                settings.getDuration(RETENTION, Duration.ZERO));
    }

    /** Whether entries are removed by age. */
    public boolean byAge() {
        return !maxAge.isZero();
    }
}
