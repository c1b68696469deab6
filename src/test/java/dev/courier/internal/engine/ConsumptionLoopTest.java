package dev.courier.internal.engine;

import dev.courier.engine.LoopStatus;
import dev.courier.Broker;
import dev.courier.BrokerConnectionException;
import dev.courier.Brokers;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.inline.InlineBrokerProvider;
import dev.courier.spi.AbstractBroker;
import dev.courier.spi.BrokerSettings;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine without CDI: a broker that cannot be reached. */
class ConsumptionLoopTest {

    /** An inline broker whose reads fail, as an unreachable one's do, while {@code down}. */
    static final class FlakyBroker extends AbstractBroker {
        final Broker inner = new InlineBrokerProvider().create("flaky", new BrokerSettings("flaky", "inline", Map.of()));
        final List<Long> readsWhileDown = new CopyOnWriteArrayList<>();
        volatile boolean down;
        /** Thrown by the next read, once. */
        volatile Error errorOnNextRead;

        FlakyBroker() {
            super("flaky", "flaky", new InlineBrokerProvider().create("x", new BrokerSettings("x", "inline",
                    Map.of())).capabilities());
        }

        @Override
        protected String doPublish(String stream, Map<String, Object> payload) {
            return inner.publish(stream, payload);
        }

        @Override
        protected List<Message> doRead(String stream, String group, int max) {
            Error error = errorOnNextRead;
            if (error != null) {
                errorOnNextRead = null;
                throw error;
            }
            if (down) {
                readsWhileDown.add(System.nanoTime());
                throw new BrokerConnectionException("cannot reach redis://admin:secret@db:6379");
            }
            return inner.read(stream, group, max);
        }

        @Override
        protected boolean doAck(String stream, String id, String group) {
            return inner.ack(stream, id, group);
        }

        @Override
        protected boolean doNack(String stream, String id, String group) {
            return inner.nack(stream, id, group);
        }

        @Override
        protected boolean doPing() {
            return !down;
        }

        @Override
        protected HealthStats doHealthStats() {
            return inner.healthStats();
        }

        @Override
        public Map<String, Object> info() {
            return inner.info();
        }

        @Override
        public void close() {
        }
    }

    @Test
    void an_unreachable_broker_backs_the_loop_off_reports_it_and_the_loop_resumes_by_itself() {
        FlakyBroker broker = new FlakyBroker();
        List<Object> handled = new CopyOnWriteArrayList<>();
        Subscription subscription = new Subscription("default", "s", "g", "", Message.class, "test.handle(Message)",
                argument -> handled.add(((Message) argument).payload().get("n")));
        CourierEngine engine = CourierEngine.create(EngineSettings.defaults(),
                new Brokers(Map.of("default", broker)), List.of(subscription));
        broker.down = true;
        engine.start();
        try {
            broker.publish("s", Map.of("type", "t", "n", 1));
            await().atMost(Duration.ofSeconds(10)).until(() -> broker.readsWhileDown.size() >= 2);
            LoopStatus loop = engine.status().loops().get(0);
            assertEquals(LoopStatus.State.BACKING_OFF, loop.state());
            assertFalse(loop.healthy());
            assertFalse(engine.status().healthy());
            assertTrue(loop.lastError().startsWith(BrokerConnectionException.class.getName()), loop.lastError());
            assertFalse(loop.lastError().contains("secret"), "no password in the status: " + loop.lastError());
            long gap = broker.readsWhileDown.get(1) - broker.readsWhileDown.get(0);
            assertTrue(gap >= Duration.ofMillis(900).toNanos(), "backed off about 1 s: " + gap);

            broker.down = false;
            await().atMost(Duration.ofSeconds(10)).until(() -> handled.size() == 1);
            assertEquals(2, broker.readsWhileDown.size(), "the second pause was 2 s: no third failing read");
            await().atMost(Duration.ofSeconds(5))
                    .until(() -> engine.status().loops().get(0).state() == LoopStatus.State.RUNNING);
            LoopStatus recovered = engine.status().loops().get(0);
            assertNull(recovered.lastError());
            assertEquals(1, recovered.handled());
            assertTrue(engine.status().healthy());
        } finally {
            engine.stop();
        }
        assertEquals(LoopStatus.State.STOPPED, engine.status().loops().get(0).state());
    }

    static Broker inline(String... options) {
        Map<String, String> map = new java.util.HashMap<>();
        for (int i = 0; i < options.length; i += 2) {
            map.put(options[i], options[i + 1]);
        }
        return new InlineBrokerProvider().create("default", new BrokerSettings("default", "inline", map));
    }

    static int recurse(int depth) {
        return recurse(depth + 1) + 1;
    }

    @Test
    void a_handler_that_overflows_its_stack_fails_that_message_only_and_the_loop_goes_on() {
        Broker broker = inline("retry-delay", "0.05");
        List<List<Integer>> deliveries = new CopyOnWriteArrayList<>();
        CourierEngine engine = CourierEngine.create(EngineSettings.defaults(), new Brokers(Map.of("default", broker)),
                List.of(new Subscription("default", "s", "g", "", Message.class, "test", argument -> {
                    Message message = (Message) argument;
                    int n = (Integer) message.payload().get("n");
                    deliveries.add(List.of(n, message.deliveryCount()));
                    if (n == 1 && message.deliveryCount() == 1) {
                        recurse(0); // a real StackOverflowError
                    }
                })));
        engine.start();
        try {
            broker.publish("s", Map.of("n", 1));
            broker.publish("s", Map.of("n", 2));
            await().atMost(Duration.ofSeconds(10)).until(() -> deliveries.size() == 3);
            assertTrue(deliveries.contains(List.of(2, 1)), "the next message was handled: " + deliveries);
            assertTrue(deliveries.contains(List.of(1, 2)), "the overflowing one was rejected and came back: "
                    + deliveries);
            await().atMost(Duration.ofSeconds(5)).until(() -> engine.status().loops().get(0).handled() == 2);
            LoopStatus loop = engine.status().loops().get(0);
            assertEquals(1, loop.failed());
            assertEquals(0, loop.restarts(), "a handler's StackOverflowError does not end the loop");
            assertEquals(LoopStatus.State.RUNNING, loop.state());
            assertEquals(0L, broker.healthStats().messageCounts().inFlight(), "nothing left held");
        } finally {
            engine.stop();
        }
    }

    @Test
    void a_loop_ended_by_an_out_of_memory_error_is_restarted_after_the_backoff_and_goes_on() {
        Broker broker = inline();
        List<Object> handled = new CopyOnWriteArrayList<>();
        List<Long> thrownAt = new CopyOnWriteArrayList<>();
        CourierEngine engine = CourierEngine.create(EngineSettings.defaults(), new Brokers(Map.of("default", broker)),
                List.of(new Subscription("default", "s", "g", "", Message.class, "test", argument -> {
                    Object n = ((Message) argument).payload().get("n");
                    if (n.equals(1)) {
                        thrownAt.add(System.nanoTime());
                        throw new OutOfMemoryError("Java heap space (simulated)");
                    }
                    handled.add(n);
                })));
        engine.start();
        try {
            broker.publish("s", Map.of("n", 1));
            broker.publish("s", Map.of("n", 2));
            await().atMost(Duration.ofSeconds(5)).until(() -> engine.status().loops().get(0).restarts() == 1);
            LoopStatus ended = engine.status().loops().get(0);
            assertEquals(LoopStatus.State.RESTARTING, ended.state());
            assertFalse(ended.healthy());
            assertTrue(ended.lastError().startsWith(OutOfMemoryError.class.getName()), ended.lastError());

            await().atMost(Duration.ofSeconds(10)).until(() -> handled.equals(List.of(2)));
            long waited = System.nanoTime() - thrownAt.get(0);
            assertTrue(waited >= Duration.ofMillis(900).toNanos(), "restarted after about 1 s: " + waited);
            await().atMost(Duration.ofSeconds(5))
                    .until(() -> engine.status().loops().get(0).state() == LoopStatus.State.RUNNING);
            LoopStatus restarted = engine.status().loops().get(0);
            assertEquals(0, restarted.failed(), "an OutOfMemoryError is not the message's failure");
            assertNull(restarted.lastError());
            assertEquals(1L, broker.healthStats().messageCounts().inFlight(),
                    "the message in hand is left unacknowledged, for redelivery after message-timeout");
        } finally {
            engine.stop();
        }
        assertEquals(LoopStatus.State.STOPPED, engine.status().loops().get(0).state());
    }

    @Test
    void a_loop_ended_by_an_error_of_the_broker_is_restarted() {
        FlakyBroker broker = new FlakyBroker();
        broker.errorOnNextRead = new NoClassDefFoundError("a bug in an adapter (simulated)");
        List<Object> handled = new CopyOnWriteArrayList<>();
        CourierEngine engine = CourierEngine.create(EngineSettings.defaults(), new Brokers(Map.of("default", broker)),
                List.of(new Subscription("default", "s", "g", "", Message.class, "test",
                        argument -> handled.add(((Message) argument).payload().get("n")))));
        broker.publish("s", Map.of("n", 1));
        engine.start();
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> handled.size() == 1);
            LoopStatus loop = engine.status().loops().get(0);
            assertEquals(1, loop.restarts());
            assertEquals(1, loop.handled());
        } finally {
            engine.stop();
        }
    }

    /** Queuing without acknowledgement, as redis_pubsub is: at most once. */
    static final class UnacknowledgedBroker extends AbstractBroker {
        final Broker inner = new InlineBrokerProvider().create("q", new BrokerSettings("q", "inline", Map.of()));

        UnacknowledgedBroker() {
            super("q", "queue", java.util.EnumSet.of(dev.courier.BrokerCapability.PUBLISH,
                    dev.courier.BrokerCapability.SUBSCRIBE, dev.courier.BrokerCapability.CONSUMER_GROUPS));
        }

        @Override
        protected String doPublish(String stream, Map<String, Object> payload) {
            return inner.publish(stream, payload);
        }

        @Override
        protected List<Message> doRead(String stream, String group, int max) {
            return inner.read(stream, group, max);
        }

        @Override
        protected boolean doPing() {
            return true;
        }

        @Override
        protected HealthStats doHealthStats() {
            return inner.healthStats();
        }

        @Override
        public Map<String, Object> info() {
            return inner.info();
        }

        @Override
        public void close() {
        }
    }

    @Test
    void on_a_broker_without_ack_nack_a_failure_is_counted_and_logged_and_the_loop_goes_on() {
        UnacknowledgedBroker broker = new UnacknowledgedBroker();
        List<Object> handled = new CopyOnWriteArrayList<>();
        CourierEngine engine = CourierEngine.create(EngineSettings.defaults(), new Brokers(Map.of("default", broker)),
                List.of(new Subscription("default", "s", "g", "", Message.class, "test", argument -> {
                    Object n = ((Message) argument).payload().get("n");
                    if (n.equals(1)) {
                        throw new IllegalStateException("fails");
                    }
                    handled.add(n);
                })));
        engine.start();
        try {
            broker.publish("s", Map.of("type", "t", "n", 1));
            broker.publish("s", Map.of("type", "t", "n", 2));
            await().atMost(Duration.ofSeconds(10)).until(() -> handled.size() == 1);
            LoopStatus loop = engine.status().loops().get(0);
            assertEquals(1, loop.failed());
            assertEquals(1, loop.handled());
            assertEquals(LoopStatus.State.RUNNING, loop.state());
        } finally {
            engine.stop();
        }
    }

    @Test
    void a_stop_while_backing_off_is_prompt() {
        FlakyBroker broker = new FlakyBroker();
        broker.down = true;
        CourierEngine engine = CourierEngine.create(EngineSettings.defaults(), new Brokers(Map.of("default", broker)),
                List.of(new Subscription("default", "s", "g", "", Message.class, "test", argument -> { })));
        engine.start();
        await().atMost(Duration.ofSeconds(5)).until(() -> !broker.readsWhileDown.isEmpty());
        long begin = System.nanoTime();
        engine.stop();
        assertTrue(System.nanoTime() - begin < Duration.ofMillis(500).toNanos(), "the backoff pause ends at stop");
        assertEquals(LoopStatus.State.STOPPED, engine.status().loops().get(0).state());
    }

    /** An inline broker that records each acknowledging call: ack (1) or ackAll (its size). */
    static final class AckCountingBroker extends AbstractBroker {
        final Broker inner = new InlineBrokerProvider().create("a", new BrokerSettings("a", "inline", Map.of()));
        final List<Integer> ackCalls = new CopyOnWriteArrayList<>();

        AckCountingBroker() {
            super("a", "counting", new InlineBrokerProvider().create("x", new BrokerSettings("x", "inline",
                    Map.of())).capabilities());
        }

        @Override
        protected String doPublish(String stream, Map<String, Object> payload) {
            return inner.publish(stream, payload);
        }

        @Override
        protected List<Message> doRead(String stream, String group, int max) {
            return inner.read(stream, group, max);
        }

        @Override
        protected boolean doAck(String stream, String id, String group) {
            ackCalls.add(1);
            return inner.ack(stream, id, group);
        }

        @Override
        protected int doAckAll(String stream, List<String> ids, String group) {
            ackCalls.add(ids.size());
            return inner.ackAll(stream, ids, group);
        }

        @Override
        protected boolean doNack(String stream, String id, String group) {
            return inner.nack(stream, id, group);
        }

        @Override
        protected boolean doPing() {
            return true;
        }

        @Override
        protected HealthStats doHealthStats() {
            return inner.healthStats();
        }

        @Override
        public Map<String, Object> info() {
            return inner.info();
        }

        @Override
        public void close() {
        }
    }

    @Test
    void the_acks_of_a_batch_go_in_one_call_after_its_handlers_ran() {
        AckCountingBroker broker = new AckCountingBroker();
        for (int n = 0; n < 10; n++) {
            broker.publish("s", Map.of("type", n == 3 ? "unwanted" : "t", "n", n));
        }
        List<Object> handled = new CopyOnWriteArrayList<>();
        CourierEngine engine = CourierEngine.create(EngineSettings.defaults(), new Brokers(Map.of("default", broker)),
                List.of(new Subscription("default", "s", "g", "t", Message.class, "test",
                        argument -> handled.add(((Message) argument).payload().get("n")))));
        engine.start();
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> broker.ackCalls.size() == 1);
            assertEquals(List.of(10), broker.ackCalls, "one call for the batch of 10, the skipped one included");
            assertEquals(9, handled.size());
            assertEquals(0L, broker.inner.healthStats().messageCounts().inFlight(), "nothing left held");
        } finally {
            engine.stop();
        }
    }

    @Test
    void with_slow_handlers_acks_do_not_wait_for_the_end_of_the_batch() {
        AckCountingBroker broker = new AckCountingBroker();
        for (int n = 0; n < 4; n++) {
            broker.publish("s", Map.of("type", "t", "n", n));
        }
        List<Object> handled = new CopyOnWriteArrayList<>();
        long slow = ConsumptionLoop.MAX_ACK_DELAY_NANOS / 1_000_000 + 20;
        CourierEngine engine = CourierEngine.create(EngineSettings.defaults(), new Brokers(Map.of("default", broker)),
                List.of(new Subscription("default", "s", "g", "", Message.class, "test", argument -> {
                    Thread.sleep(slow); // the handler's work, which takes longer than the ack delay
                    handled.add(((Message) argument).payload().get("n"));
                })));
        engine.start();
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> handled.size() == 4
                    && broker.ackCalls.stream().mapToInt(Integer::intValue).sum() == 4);
            // An ack queued after a handler goes out with the next one's: it waited that handler's run.
            assertEquals(List.of(2, 2), broker.ackCalls);
        } finally {
            engine.stop();
        }
    }
}
