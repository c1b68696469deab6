package dev.courier.inline;

import dev.courier.Broker;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.RetryPolicy;

import java.time.InstantSource;
import java.util.Set;

/**
 * The {@code inline} provider: an in-memory broker inside the application's process, for development, tests and
 * small applications. Messages live as long as the application does.
 */
public final class InlineBrokerProvider implements BrokerProvider {

    public static final String NAME = "inline";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<String> options() {
        return RetryPolicy.OPTIONS;
    }

    @Override
    public Broker create(String brokerName, BrokerSettings settings) {
        // A uri left over from switching the provider to inline (BROKERS_DEFAULT_PROVIDER=inline) is ignored.
        return new InlineBroker(brokerName, RetryPolicy.from(settings), InstantSource.system());
    }
}
