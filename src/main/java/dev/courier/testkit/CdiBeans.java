package dev.courier.testkit;

import dev.courier.Brokers;
import dev.courier.engine.Engine;
import jakarta.enterprise.inject.spi.CDI;

/** The running CDI container's Courier beans; loaded only where the CDI API is present. */
final class CdiBeans {

    private CdiBeans() {
    }

    static Brokers brokers() {
        return container().select(Brokers.class).get();
    }

    static Engine engine() {
        return container().select(Engine.class).get();
    }

    private static CDI<Object> container() {
        try {
            return CDI.current();
        } catch (IllegalStateException e) {
            throw new IllegalStateException("no CDI container is running: start one (Weld: @EnableAutoWeld after "
                    + "@CourierTest), or in a Java SE test use TestBrokers.of(runner.brokers(), runner.engine())", e);
        }
    }
}
