package dev.courier.inline;

import dev.courier.Broker;
import dev.courier.internal.CourierOptions;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.MaintenancePolicy;
import dev.courier.spi.Option;
import dev.courier.spi.Retention;
import dev.courier.spi.RetryPolicy;

import java.time.InstantSource;
import java.util.Set;

/**
 * The {@code inline} provider: an in-memory broker inside the application's process, for development, tests and
 * small applications. Messages live in the heap: those a known group has not read yet, and, for groups created
 * later, the last {@code max-length} that every group has read. Its options are those {@link CourierOptions}
 * declares as taken by {@code inline}: the retry options of {@link RetryPolicy}, {@link Retention},
 * {@link MaintenancePolicy}, and {@code max-message-size} (as on the Redis providers, so that an application tested
 * on {@code inline} meets the limit it will meet in production).
 */
public final class InlineBrokerProvider implements BrokerProvider {

    public static final String NAME = "inline";

    static final long DEFAULT_MAX_MESSAGE_SIZE = new BrokerSettings(NAME, NAME, java.util.Map.of(), "")
            .getSize(CourierOptions.MAX_MESSAGE_SIZE);

    private static final Set<String> OPTIONS = Option.names(CourierOptions.of(NAME));

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<String> options() {
        return OPTIONS;
    }

    @Override
    public Broker create(String brokerName, BrokerSettings settings) {
        // A uri left over from switching the provider to inline (BROKERS_DEFAULT_PROVIDER=inline) is ignored.
        return new InlineBroker(brokerName, RetryPolicy.from(settings),
                Retention.from(settings, CourierOptions.INLINE_MAX_LENGTH), MaintenancePolicy.from(settings),
                InstantSource.system(), settings.getSize(CourierOptions.MAX_MESSAGE_SIZE));
    }
}
