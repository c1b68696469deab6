package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerName;
import dev.courier.Brokers;
import dev.courier.engine.Engine;
import jakarta.enterprise.inject.Produces;
import jakarta.enterprise.inject.spi.InjectionPoint;

/**
 * Makes the brokers injectable: {@code @Inject Brokers}, {@code @Inject Broker} (the default) and
 * {@code @Inject @BrokerName("x") Broker}, and the engine's status: {@code @Inject Engine}. Added to the
 * deployment by {@link CourierExtension}.
 */
class BrokerProducers {

    @Produces
    Brokers brokers(CourierExtension extension) {
        return extension.brokers();
    }

    /** The engine's status, for health checks: {@code @Inject Engine engine; engine.status()}. */
    @Produces
    Engine engine(CourierExtension extension) {
        return extension.engine();
    }

    @Produces
    Broker defaultBroker(CourierExtension extension) {
        return extension.brokers().defaultBroker();
    }

    @Produces
    @BrokerName("")
    Broker namedBroker(InjectionPoint point, CourierExtension extension) {
        String name = point.getQualifiers().stream()
                .filter(BrokerName.class::isInstance)
                .map(q -> ((BrokerName) q).value())
                .findFirst()
                .orElse(Brokers.DEFAULT);
        return extension.brokers().get(name);
    }
}
