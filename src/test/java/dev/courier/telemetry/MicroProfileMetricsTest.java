package dev.courier.telemetry;

import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.Message;
import dev.courier.engine.EngineMode;
import dev.courier.engine.GroupMetrics;
import dev.courier.inline.InlineBrokerProvider;
import dev.courier.internal.engine.CircuitBreakerSettings;
import dev.courier.internal.engine.Concurrency;
import dev.courier.internal.engine.CourierEngine;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.internal.engine.Subscription;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.RetryPolicy;
import io.smallrye.metrics.SharedMetricRegistries;
import org.eclipse.microprofile.metrics.MetricID;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.Tag;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The MicroProfile Metrics adapter on a real implementation (SmallRye Metrics, as Open Liberty's mpMetrics has it):
 * the counters, timers and gauges after a known mix of successes, failures and dead letters.
 */
@dev.courier.testing.WithRedis
class MicroProfileMetricsTest {

    private final MetricRegistry registry = SharedMetricRegistries.getOrCreate(MetricRegistry.APPLICATION_SCOPE);
    private final MicroProfileMetricsTelemetry telemetry = new MicroProfileMetricsTelemetry(registry);
    private String stream;
    private Broker broker;
    private CourierEngine engine;

    @BeforeEach
    void setUp() {
        stream = "orders-" + UUID.randomUUID();
    }

    @AfterEach
    void tearDown() {
        if (engine != null) {
            engine.stop();
        }
        if (broker != null) {
            broker.close();
        }
    }

    /** An inline broker that retries once after 10 ms, and an engine whose handler fails on {@code fail}. */
    private void start(boolean deadLetters) {
        startEngine(new InlineBrokerProvider().create("default", new BrokerSettings("default", "inline", Map.of(
                RetryPolicy.MAX_RETRIES, "1", RetryPolicy.RETRY_DELAY, "PT0.01S",
                RetryPolicy.ENABLE_DLQ, Boolean.toString(deadLetters)))));
        // Three that succeed (two in one batch), one that fails twice and is then given up on (max-retries 1).
        broker.publishAll(stream, List.of(Map.of("n", 1), Map.of("n", 2)));
        broker.publish(stream, Map.of("fail", true));
        broker.publish(stream, Map.of("n", 3));
        await().until(() -> only().handled() == 3 && only().failed() == 2 && Long.valueOf(0).equals(only().pending()));
    }

    private void startEngine(Broker consumed) {
        broker = consumed;
        EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, 10, Duration.ofMillis(100),
                Duration.ofSeconds(5), "test-consumer");
        engine = CourierEngine.create(settings, new Brokers(Map.of("default", broker)), List.of(new Subscription(
                "default", stream, "billing", "", Message.class, "MicroProfileMetricsTest.handle", argument -> {
                    if (((Message) argument).payload().containsKey("fail")) {
                        throw new IllegalStateException("declined");
                    }
                }, CircuitBreakerSettings.OFF, Concurrency.SEQUENTIAL)), telemetry);
        engine.start();
    }

    /** Stops the engine: its loop has settled what it handled, and its gauges are removed. */
    private void stop() {
        engine.stop();
        engine = null;
    }

    private GroupMetrics only() {
        List<GroupMetrics> all = engine.metrics();
        assertEquals(1, all.size());
        return all.get(0);
    }

    private MetricID group(String name) {
        return new MetricID(name, new Tag("broker", "default"), new Tag("stream", stream), new Tag("group", "billing"));
    }

    private MetricID publishing(String name) {
        return new MetricID(name, new Tag("broker", "default"), new Tag("stream", stream), new Tag("system", "inline"));
    }

    @Test
    void counters_timers_and_gauges_give_a_known_mix_of_successes_failures_and_dead_letters() {
        start(true);
        assertEquals(0L, registry.getGauge(group("courier.consumer_group.lag")).getValue());
        assertEquals(0L, registry.getGauge(group("courier.consumer_group.pending")).getValue());
        assertEquals(-1L, registry.getGauge(group("courier.consumer_group.consumers")).getValue(),
                "inline does not tell: -1, as MicroProfile Metrics has no empty gauge");
        stop();
        assertNull(registry.getGauge(group("courier.consumer_group.lag")), "the gauges go with the application");
        assertEquals(4, registry.getCounter(publishing("courier.published")).getCount());
        assertEquals(0, registry.getCounter(publishing("courier.publish.failures")).getCount());
        assertEquals(3, registry.getTimer(publishing("courier.publish.duration")).getCount(), "the batch is one");
        assertEquals(3, registry.getCounter(group("courier.messages.handled")).getCount());
        assertEquals(2, registry.getCounter(group("courier.messages.failed")).getCount());
        assertEquals(1, registry.getCounter(group("courier.messages.dead_lettered")).getCount());
        assertEquals(0, registry.getCounter(group("courier.reconnects")).getCount());
        assertEquals(5, registry.getTimer(group("courier.handler.duration")).getCount(), "3 successes, 2 failures");
    }

    @Test
    void with_enable_dlq_false_the_message_given_up_on_is_not_counted_as_dead_lettered() {
        start(false);
        stop();
        assertEquals(2, registry.getCounter(group("courier.messages.failed")).getCount());
        assertEquals(0, registry.getCounter(group("courier.messages.dead_lettered")).getCount());
        assertEquals(1L, broker.healthStats().details().get("discarded"));
    }

    @Test
    void under_partition_poison_halt_the_message_is_counted_as_halted_not_dead_lettered(
            dev.courier.testing.RedisServer redis) {
        startEngine(new dev.courier.redis.RedisBrokerProvider().create("default", new BrokerSettings("default",
                "redis", Map.of("uri", redis.uri(), RetryPolicy.MAX_RETRIES, "1", RetryPolicy.RETRY_DELAY, "PT0.01S",
                "partition-key." + stream, "k", "partition-poison.billing", "halt", "partition-lease-ttl", "1"))));
        broker.publish(stream, Map.of("k", "a", "fail", true));
        await().until(() -> only().halted() == 1);
        stop();
        assertEquals(2, registry.getCounter(group("courier.messages.failed")).getCount());
        assertEquals(1, registry.getCounter(group("courier.messages.halted")).getCount());
        assertEquals(0, registry.getCounter(group("courier.messages.dead_lettered")).getCount());
    }
}
