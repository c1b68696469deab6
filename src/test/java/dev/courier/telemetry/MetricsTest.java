package dev.courier.telemetry;

import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.engine.EngineMode;
import dev.courier.engine.GroupMetrics;
import dev.courier.inline.InlineBrokerProvider;
import dev.courier.internal.engine.CircuitBreakerSettings;
import dev.courier.internal.engine.Concurrency;
import dev.courier.internal.engine.CourierEngine;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.internal.engine.Subscription;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static dev.courier.telemetry.OtelKit.value;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Metric values after a known mix of successes, failures and dead letters, with OpenTelemetry and without. */
@WithRedis
class MetricsTest {

    private static RedisServer redis;
    private OtelKit otel;
    private String stream;

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @BeforeEach
    void setUp() {
        otel = new OtelKit();
        stream = "orders-" + UUID.randomUUID();
    }

    @AfterEach
    void tearDown() throws Exception {
        otel.close();
    }

    private static void failOnFlag(Object argument) {
        if (((Message) argument).payload().containsKey("fail")) {
            throw new IllegalStateException("declined");
        }
    }

    /** Three that succeed, one that fails twice and is dead-lettered (max-retries 1). */
    private void publishMix(Broker broker) {
        broker.publishAll(stream, List.of(Map.of("n", 1), Map.of("n", 2)));
        broker.publish(stream, Map.of("fail", true));
        broker.publish(stream, Map.of("n", 3));
    }

    private static GroupMetrics only(CourierEngine engine) {
        List<GroupMetrics> all = engine.metrics();
        assertEquals(1, all.size());
        return all.get(0);
    }

    @Test
    void opentelemetry_metrics_count_a_known_mix_of_successes_failures_and_dead_letters() {
        Broker broker = otel.inline();
        CourierEngine engine = otel.engine(broker, stream, "billing", MetricsTest::failOnFlag);
        otel.started(engine);
        publishMix(broker);
        await().until(() -> only(engine).deadLettered() == 1 && only(engine).handled() == 3);

        Map<String, MetricData> metrics = otel.collect();
        assertEquals(4, value(metrics.get("messaging.client.sent.messages"), "messaging.destination.name", stream));
        assertEquals(3, value(metrics.get("courier.messages.handled"), "messaging.consumer.group.name", "billing"));
        assertEquals(2, value(metrics.get("courier.messages.failed"), "messaging.consumer.group.name", "billing"));
        assertEquals(1, value(metrics.get("courier.messages.dead_lettered"), "messaging.consumer.group.name",
                "billing"));
        assertEquals(0, value(metrics.get("courier.reconnects"), "messaging.consumer.group.name", "billing"));
        assertEquals(0, value(metrics.get("courier.consumer_group.lag"), "messaging.consumer.group.name", "billing"));

        // Handler durations: 3 successes without error.type, 2 failures with it.
        MetricData process = metrics.get("messaging.process.duration");
        assertEquals("s", process.getUnit());
        long ok = 0;
        long failed = 0;
        for (HistogramPointData p : process.getHistogramData().getPoints()) {
            String error = p.getAttributes().get(AttributeKey.stringKey("error.type"));
            assertEquals("billing", p.getAttributes().get(AttributeKey.stringKey("messaging.consumer.group.name")));
            if (error == null) {
                ok += p.getCount();
            } else {
                assertEquals(IllegalStateException.class.getName(), error);
                failed += p.getCount();
            }
        }
        assertEquals(3, ok);
        assertEquals(2, failed);
        // Publish durations: the batch is one publish, so three.
        MetricData send = metrics.get("messaging.client.operation.duration");
        assertEquals(3, ((HistogramPointData) OtelKit.point(send, "messaging.operation.name", "send")).getCount());
    }

    /** A payload type that {@code {"quantity": "many"}} cannot be bound to. */
    public record Order(String id, int quantity) {
    }

    @Test
    void with_enable_dlq_false_what_is_given_up_on_is_counted_as_discarded_not_dead_lettered() {
        Broker broker = otel.closing(new RedisBrokerProvider().create("default", new BrokerSettings("default",
                "redis", Map.of("uri", redis.uri(), RetryPolicy.MAX_RETRIES, "1", RetryPolicy.RETRY_DELAY, "PT0.01S",
                RetryPolicy.ENABLE_DLQ, "false"))));
        EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, 10, Duration.ofMillis(100),
                Duration.ofSeconds(5), "test-consumer");
        CourierEngine engine = CourierEngine.create(settings, new Brokers(Map.of("default", broker)),
                List.of(new Subscription("default", stream, "billing", "", Order.class, "MetricsTest.handle(Order)",
                        argument -> {
                            if (((Order) argument).quantity() < 0) {
                                throw new IllegalStateException("declined");
                            }
                        }, CircuitBreakerSettings.OFF, Concurrency.SEQUENTIAL)), otel.telemetry);
        otel.started(engine);
        broker.publish(stream, Map.of("id", "a", "quantity", 1));
        broker.publish(stream, Map.of("id", "b", "quantity", -1)); // rejected twice: past max-retries the second time
        broker.publish(stream, Map.of("id", "c", "quantity", "many")); // not an Order
        await().until(() -> otel.spans("discard " + stream).size() == 2
                && Long.valueOf(0).equals(only(engine).pending()));

        GroupMetrics g = only(engine);
        assertEquals(1, g.handled());
        assertEquals(2, g.failed());
        assertEquals(0, g.deadLettered(), "nothing went to the dead-letter queue");
        assertEquals(0L, broker.deadLetterDepth(stream));
        assertEquals(2L, broker.healthStats().details().get("discarded"));
        Map<String, MetricData> metrics = otel.collect();
        assertEquals(0, value(metrics.get("courier.messages.dead_lettered"), "messaging.consumer.group.name",
                "billing"));
        assertEquals(2, value(metrics.get("courier.messages.failed"), "messaging.consumer.group.name", "billing"));
        assertEquals(List.of(), otel.spans("dead_letter " + stream));
        assertEquals(1, otel.spans("nack " + stream).size(), "the first rejection: delivered again");
        for (var discard : otel.spans("discard " + stream)) {
            assertEquals("settle", OtelKit.attribute(discard, "messaging.operation.type"));
            assertEquals("discard", OtelKit.attribute(discard, "messaging.operation.name"));
        }
    }

    @Test
    void under_partition_poison_halt_a_poison_message_counts_as_halted_not_dead_lettered() {
        Broker broker = otel.closing(new RedisBrokerProvider().create("default", new BrokerSettings("default",
                "redis", Map.of("uri", redis.uri(), RetryPolicy.MAX_RETRIES, "1", RetryPolicy.RETRY_DELAY, "PT0.01S",
                "partition-key." + stream, "k", "partition-poison.billing", "halt", "partition-lease-ttl", "1"))));
        CourierEngine engine = otel.started(otel.engine(broker, stream, "billing", MetricsTest::failOnFlag));
        broker.publish(stream, Map.of("k", "a", "fail", true)); // rejected twice: the key halts on it
        broker.publish(stream, Map.of("k", "b", "n", 1));
        await().until(() -> only(engine).halted() == 1 && only(engine).handled() == 1);

        GroupMetrics g = only(engine);
        assertEquals(2, g.failed());
        assertEquals(0, g.deadLettered(), "a halted message is not dead-lettered");
        assertEquals(1, ((dev.courier.Partitions) broker).halted(stream, "billing").size());
        assertEquals(0L, broker.deadLetterDepth(stream + ":a"));
        assertEquals(0L, broker.healthStats().messageCounts().deadLettered());
        assertEquals(1L, broker.healthStats().details().get("halted_keys"));
        Map<String, Object> readiness = dev.courier.health.HealthReport.readiness(
                new Brokers(Map.of("default", broker)), engine).data();
        assertEquals(0L, readiness.get("default.dead_lettered"));
        assertEquals(1L, readiness.get("default.halted_keys"));
        Map<String, MetricData> metrics = otel.collect();
        assertEquals(0, value(metrics.get("courier.messages.dead_lettered"), "messaging.consumer.group.name",
                "billing"));
        assertEquals(1, value(metrics.get("courier.messages.halted"), "messaging.consumer.group.name", "billing"));
        assertEquals(List.of(), otel.spans("dead_letter " + stream));
        assertEquals(1, otel.spans("nack " + stream).size(), "the first rejection: delivered again");
        assertEquals("halt", OtelKit.attribute(otel.span("halt " + stream), "messaging.operation.name"));
    }

    @Test
    void engine_metrics_and_health_data_give_the_figures_without_opentelemetry() {
        Broker broker = otel.inline();
        EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, 10, Duration.ofMillis(100),
                Duration.ofSeconds(5), "test-consumer");
        CourierEngine engine = CourierEngine.create(settings, new Brokers(Map.of("default", broker)),
                List.of(new Subscription("default", stream, "billing", "", Message.class, "MetricsTest.handle",
                        MetricsTest::failOnFlag, CircuitBreakerSettings.OFF, Concurrency.SEQUENTIAL)));
        otel.started(engine);
        publishMix(broker);
        await().until(() -> only(engine).deadLettered() == 1 && only(engine).handled() == 3);

        GroupMetrics g = only(engine);
        assertEquals("default", g.broker());
        assertEquals(stream, g.stream());
        assertEquals("billing", g.group());
        assertEquals(2, g.failed());
        assertEquals(5, g.handlings());
        assertTrue(g.handlerTime().compareTo(g.longestHandling()) >= 0);
        assertEquals(0L, g.lag());
        assertEquals(0L, g.pending());
        assertNull(g.consumers(), "inline does not tell");
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> published =
                (Map<String, Map<String, Object>>) broker.healthStats().details().get("published");
        assertEquals(4L, published.get(stream).get("messages"));
        assertEquals(3L, published.get(stream).get("publishes"));
        assertEquals(0L, published.get(stream).get("failed_publishes"));
        assertTrue(otel.collect().isEmpty(), "nothing reached OpenTelemetry");
    }

    @Test
    void lag_pending_and_consumers_of_a_redis_group_are_what_redis_reports() throws Exception {
        Broker broker = new RedisBrokerProvider().create("default", new BrokerSettings("default", "redis",
                Map.of("uri", redis.uri())));
        otel.closing(broker);
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch inHandler = new CountDownLatch(1);
        EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, 1, Duration.ofMillis(100),
                Duration.ofSeconds(5), "test-consumer");
        CourierEngine engine = CourierEngine.create(settings, new Brokers(Map.of("default", broker)),
                List.of(new Subscription("default", stream, "billing", "", Message.class, "MetricsTest.handle",
                        argument -> {
                            inHandler.countDown();
                            release.await();
                        }, CircuitBreakerSettings.OFF,
                        // max-in-flight 1: the loop holds what it handles and reads nothing ahead beside it
                        new Concurrency(1, Subscribe.Ordering.STREAM, "", 1))), otel.telemetry);
        otel.closing((AutoCloseable) engine::stop);
        otel.closing((AutoCloseable) release::countDown);
        for (int i = 0; i < 5; i++) {
            broker.publish(stream, Map.of("n", i));
        }
        engine.start();
        assertTrue(inHandler.await(10, TimeUnit.SECONDS));
        // Batch size 1: one entry delivered and held by the handler, four not delivered yet.
        GroupMetrics g = only(engine);
        assertEquals(4L, g.lag(), "Redis 7's XINFO GROUPS lag, or (Redis 6) the entries counted after the group's");
        assertEquals(1L, g.pending());
        assertEquals(1, g.consumers());
        Map<String, MetricData> metrics = otel.collect();
        assertEquals(1, value(metrics.get("courier.consumer_group.pending"), "messaging.destination.name", stream));
        assertEquals(1, value(metrics.get("courier.consumer_group.consumers"), "messaging.destination.name", stream));
        release.countDown();
        await().until(() -> only(engine).handled() == 5);
        await().until(() -> Long.valueOf(0).equals(only(engine).pending()));
    }
}
