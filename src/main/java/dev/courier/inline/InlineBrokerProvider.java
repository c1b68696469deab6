package dev.courier.inline;

import dev.courier.Broker;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.MaintenancePolicy;
import dev.courier.spi.Retention;
import dev.courier.spi.RetryPolicy;

import java.time.InstantSource;
import java.util.HashSet;
import java.util.Set;

/**
 * The {@code inline} provider: an in-memory broker inside the application's process, for development, tests and
 * small applications. Messages live in the heap: those a known group has not read yet, and, for groups created
 * later, the last {@code max-length} (10,000) that every group has read. Options, besides the retry options of
 * {@link RetryPolicy}: {@link Retention} ({@code max-length}, {@code retention}), {@link MaintenancePolicy}, and
 * {@code max-message-size} (1 MiB, as on the Redis providers, so that an application tested on {@code inline} meets
 * the limit it will meet in production).
 */
public final class InlineBrokerProvider implements BrokerProvider {

    public static final String NAME = "inline";

    static final long DEFAULT_MAX_MESSAGE_SIZE = 1 << 20;

    private static final Set<String> OPTIONS;

    static {
        Set<String> options = new HashSet<>(RetryPolicy.OPTIONS);
        options.addAll(Retention.OPTIONS);
        options.addAll(MaintenancePolicy.OPTIONS);
        options.add(BrokerSettings.MAX_MESSAGE_SIZE);
        OPTIONS = Set.copyOf(options);
    }

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
                Retention.from(settings, InlineBroker.DEFAULT_MAX_LENGTH), MaintenancePolicy.from(settings),
                InstantSource.system(), settings.getSize(BrokerSettings.MAX_MESSAGE_SIZE, DEFAULT_MAX_MESSAGE_SIZE));
    }
}
