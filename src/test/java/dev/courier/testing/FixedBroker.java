package dev.courier.testing;

import dev.courier.BrokerCapability;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.spi.AbstractBroker;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A broker for tests of the wiring around brokers (CDI, configuration, health): it accepts what is published, has
 * nothing to read, always answers a ping, and records that it was closed.
 */
public class FixedBroker extends AbstractBroker {

    private final AtomicLong ids = new AtomicLong();
    private volatile boolean closed;

    public FixedBroker(String name, String provider, Set<BrokerCapability> capabilities) {
        super(name, provider, capabilities);
    }

    public boolean closed() {
        return closed;
    }

    @Override
    protected String doPublish(String stream, Map<String, Object> payload) {
        return String.valueOf(ids.incrementAndGet());
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
                new HealthStats.MessageCounts(ids.get(), 0, 0, 0), Map.of());
    }

    @Override
    public Map<String, Object> info() {
        return Map.of("name", name());
    }

    @Override
    public void close() {
        closed = true;
    }
}
