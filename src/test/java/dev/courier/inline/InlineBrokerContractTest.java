package dev.courier.inline;

import dev.courier.Broker;
import dev.courier.BrokerContractTest;
import dev.courier.spi.RetryPolicy;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;

/** The broker contract, held against the inline broker on a clock that the test moves. */
class InlineBrokerContractTest extends BrokerContractTest {

    private final Clock clock = new Clock();

    @Override
    protected Broker newBroker(RetryPolicy policy) {
        return new InlineBroker("contract", policy, clock);
    }

    @Override
    protected Instant now() {
        return clock.instant();
    }

    @Override
    protected void tick(Duration step) {
        clock.now = clock.now.plus(step);
    }

    @Override
    protected void elapse(Duration duration) {
        tick(duration);
    }

    private static final class Clock implements InstantSource {
        volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");

        @Override
        public Instant instant() {
            return now;
        }
    }
}
