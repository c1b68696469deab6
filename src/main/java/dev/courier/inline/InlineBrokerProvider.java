package dev.courier.inline;

import dev.courier.Broker;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.RetryPolicy;

import java.time.InstantSource;
import java.util.HashSet;
import java.util.Set;

/**
 * The {@code inline} provider: an in-memory broker inside the application's process, for development, tests and
 * small applications. Messages live as long as the application does.
 *
 * <p>Options: the retry options of {@link RetryPolicy} and {@code max-message-size} (1 MiB, as on the Redis
 * providers, so that an application tested on {@code inline} meets the limit it will meet in production).
 */
public final class InlineBrokerProvider implements BrokerProvider {

    public static final String NAME = "inline";

    static final long DEFAULT_MAX_MESSAGE_SIZE = 1 << 20;

    private static final Set<String> OPTIONS;

    static {
        Set<String> options = new HashSet<>(RetryPolicy.OPTIONS);
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
        return new InlineBroker(brokerName, RetryPolicy.from(settings), InstantSource.system(),
                settings.getSize(BrokerSettings.MAX_MESSAGE_SIZE, DEFAULT_MAX_MESSAGE_SIZE));
    }
}
