package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.spi.AbstractBroker;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/** A provider found by ServiceLoader (src/test/resources) whose brokers record that they were closed. */
public class ClosingProvider implements BrokerProvider {

    static final List<ClosingBroker> created = new CopyOnWriteArrayList<>();

    @Override
    public String name() {
        return "closing";
    }

    @Override
    public Broker create(String brokerName, BrokerSettings settings) {
        ClosingBroker broker = new ClosingBroker(brokerName);
        created.add(broker);
        return broker;
    }

    static final class ClosingBroker extends AbstractBroker {
        volatile boolean closed;

        ClosingBroker(String name) {
            super(name, "closing", Set.of(BrokerCapability.PUBLISH));
        }

        @Override
        protected String doPublish(String stream, Map<String, Object> payload) {
            return "1";
        }

        @Override
        protected List<Message> doRead(String stream, String group, int max) {
            return List.of();
        }

        @Override
        protected boolean doPing() {
            return true;
        }

        @Override
        protected HealthStats doHealthStats() {
            return new HealthStats(HealthStats.Status.HEALTHY, true, null, uptime(),
                    new HealthStats.MessageCounts(0, 0, 0, 0), Map.of());
        }

        @Override
        public Map<String, Object> info() {
            return Map.of();
        }

        @Override
        public void close() {
            closed = true;
        }
    }
}
