package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.FixedBroker;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/** A provider found by ServiceLoader (src/test/resources) that keeps the brokers it built, to see them closed. */
public class ClosingProvider implements BrokerProvider {

    static final List<FixedBroker> created = new CopyOnWriteArrayList<>();

    @Override
    public String name() {
        return "closing";
    }

    @Override
    public Broker create(String brokerName, BrokerSettings settings) {
        FixedBroker broker = new FixedBroker(brokerName, name(), Set.of(BrokerCapability.PUBLISH));
        created.add(broker);
        return broker;
    }
}
