package dev.courier.health;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.BrokerConnectionException;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.spi.AbstractBroker;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A provider whose brokers never answer: their ping fails at once, or hangs with option {@code hang=true}. Their
 * errors carry the URI, as careless adapters' errors do.
 */
public class UnreachableProvider implements BrokerProvider {

    @Override
    public String name() {
        return "unreachable";
    }

    @Override
    public Set<String> options() {
        return Set.of("hang");
    }

    @Override
    public Broker create(String brokerName, BrokerSettings settings) {
        String uri = settings.require("uri");
        boolean hang = settings.getBoolean("hang", false);
        return new AbstractBroker(brokerName, name(), Set.of(BrokerCapability.PUBLISH)) {
            @Override
            protected String doPublish(String stream, Map<String, Object> payload) {
                throw new BrokerConnectionException("cannot reach " + uri);
            }

            @Override
            protected List<Message> doRead(String stream, String group, int max) {
                throw new BrokerConnectionException("cannot reach " + uri);
            }

            @Override
            protected boolean doPing() {
                if (hang) {
                    try {
                        new java.util.concurrent.CountDownLatch(1).await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                throw new BrokerConnectionException("cannot reach " + uri);
            }

            @Override
            protected HealthStats doHealthStats() {
                throw new BrokerConnectionException("cannot reach " + uri);
            }

            @Override
            public Map<String, Object> info() {
                return Map.of();
            }

            @Override
            public void close() {
            }
        };
    }
}
