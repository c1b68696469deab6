package dev.courier.spi;

import dev.courier.BrokerCapability;
import dev.courier.HealthStats;
import dev.courier.Message;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertFalse;

/** Operations a broker lacks the capability for do nothing and never reach the adapter. */
class AbstractBrokerTest {

    static final class QueueOnly extends AbstractBroker {
        volatile boolean reachedAdapter;

        QueueOnly() {
            super("q", "test", Set.of(BrokerCapability.PUBLISH, BrokerCapability.SUBSCRIBE,
                    BrokerCapability.CONSUMER_GROUPS, BrokerCapability.ACK_NACK));
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
        protected boolean doMoveToDeadLetters(String stream, String id, String group, String reason) {
            reachedAdapter = true;
            return true;
        }

        @Override
        protected boolean doPing() {
            return true;
        }

        @Override
        protected HealthStats doHealthStats() {
            return null;
        }

        @Override
        public Map<String, Object> info() {
            return Map.of();
        }

        @Override
        public void close() {
        }
    }

    @Test
    void dead_lettering_without_a_dead_letter_queue_is_false_and_does_not_reach_the_adapter() {
        QueueOnly broker = new QueueOnly();
        assertFalse(broker.moveToDeadLetters("s", "1", "g", "reason"));
        assertFalse(broker.reachedAdapter);
    }
}
