package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.DomainEvent;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.engine.LoopStatus;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import io.smallrye.health.AsyncHealthCheckFactory;
import io.smallrye.health.SmallRyeHealthReporter;
import io.smallrye.health.registry.HealthRegistries;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XAddParams;
import redis.clients.jedis.resps.StreamEntry;

import java.io.StringReader;
import java.text.MessageFormat;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Protean's event envelope on a real Redis, written and read through plain Jedis: a Protean event is routed by
 * {@code metadata.headers.type} and bound from {@code data}; an event a Courier handler publishes carries every
 * header Protean reads, linked to the event it handles. Messages no method wants are counted and logged.
 */
@WithRedis
class ProteanEnvelopeTest {

    static final Duration WAIT = Duration.ofSeconds(10);
    static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
    static final String PARENT = "00f067aa0ba902b7";

    /** As a Protean service publishes Interop.OrderPlaced.v1 (Message.to_dict(), json.dumps). */
    static final String PROTEAN_EVENT = """
            {"data": {"order_id": "810a", "sku": "x"},
             "metadata": {
               "headers": {"id": "interop::order-810a-0.1", "time": "2026-12-01T09:52:32.626327+00:00",
                           "type": "Interop.OrderPlaced.v1", "stream": "interop::order-810a",
                           "traceparent": {"trace_id": "%s", "parent_id": "%s", "sampled": true},
                           "idempotency_key": null, "deadline": null},
               "envelope": {"specversion": "1.0", "checksum": "329ae6"},
               "domain": {"fqn": "app.OrderPlaced", "kind": "EVENT", "stream_category": "interop::order",
                          "version": 1, "sequence_id": "0.1", "asynchronous": true, "expected_version": -1,
                          "priority": 0, "correlation_id": "corr-42", "causation_id": null},
               "event_store": null, "extensions": {}}}
            """.formatted(TRACE, PARENT);

    public record OrderPlaced(String order_id, String sku) {
    }

    @ApplicationScoped
    static class Shipping {
        final List<OrderPlaced> placed = new CopyOnWriteArrayList<>();
        final List<Message> messages = new CopyOnWriteArrayList<>();

        void ship(@Subscribe(stream = "orders", type = "Interop.OrderPlaced.v1") OrderPlaced order, Broker broker) {
            placed.add(order);
            broker.publish("shipments", DomainEvent.of("Interop.ShipmentRequested.v1",
                    Map.of("order_id", order.order_id(), "carrier", "dhl")));
        }

        void audit(@Subscribe(stream = "orders", type = "Interop.OrderPlaced.v1") Message message) {
            messages.add(message);
        }

        List<OrderPlaced> placed() {
            return placed;
        }

        List<Message> messages() {
            return messages;
        }
    }

    private Jedis jedis;
    private Deployment app;

    @BeforeEach
    void connect(RedisServer redis) {
        jedis = new Jedis(redis.host(), redis.port());
        jedis.del("orders", "shipments", "orders:dlq");
        app = Deployment.of(Map.of("brokers.default.provider", "redis", "brokers.default.uri", redis.uri()),
                Shipping.class, SmallRyeHealthReporter.class, AsyncHealthCheckFactory.class, HealthRegistries.class);
    }

    @AfterEach
    void close() {
        app.close();
        jedis.close();
    }

    private static JsonObject json(String text) {
        try (JsonReader reader = Json.createReader(new StringReader(text))) {
            return reader.readObject();
        }
    }

    @Test
    void a_protean_event_is_routed_by_its_type_bound_from_data_and_what_the_handler_publishes_is_linked_to_it() {
        Shipping shipping = app.bean(Shipping.class);
        jedis.xadd("orders", XAddParams.xAddParams(), Map.of("data", PROTEAN_EVENT));

        await().atMost(WAIT).until(() -> shipping.placed().size() == 1 && shipping.messages().size() == 1);
        assertEquals(new OrderPlaced("810a", "x"), shipping.placed().get(0), "bound from data");
        Message message = shipping.messages().get(0);
        assertEquals("Interop.OrderPlaced.v1", message.type());
        DomainEvent event = message.event().orElseThrow();
        assertEquals("interop::order-810a-0.1", event.id());
        assertEquals(Instant.parse("2026-12-01T09:52:32.626327Z"), event.time());
        assertEquals("00-" + TRACE + "-" + PARENT + "-01", event.traceparent());
        assertEquals("corr-42", event.correlationId());
        assertNull(event.causationId());
        assertEquals(Map.of("order_id", "810a", "sku", "x"), event.data());

        await().atMost(WAIT).until(() -> jedis.xlen("shipments") == 1);
        StreamEntry entry = jedis.xrange("shipments", (StreamEntryID) null, (StreamEntryID) null).get(0);
        assertEquals(Set.of("data"), entry.getFields().keySet());
        JsonObject published = json(entry.getFields().get("data"));
        assertEquals(Set.of("data", "metadata"), published.keySet(), "Protean's Message.to_dict() keys");
        assertEquals("810a", published.getJsonObject("data").getString("order_id"));
        assertEquals("dhl", published.getJsonObject("data").getString("carrier"));
        JsonObject metadata = published.getJsonObject("metadata");
        JsonObject headers = metadata.getJsonObject("headers");
        assertEquals("Interop.ShipmentRequested.v1", headers.getString("type"));
        UUID.fromString(headers.getString("id"));
        OffsetDateTime time = OffsetDateTime.parse(headers.getString("time"));
        assertTrue(Duration.between(time.toInstant(), Instant.now()).abs().compareTo(WAIT) < 0, time.toString());
        assertTrue(headers.getString("time").endsWith("+00:00"), headers.getString("time"));
        JsonObject traceparent = headers.getJsonObject("traceparent");
        assertEquals(TRACE, traceparent.getString("trace_id"), "the handled event's trace, carried on");
        assertEquals(PARENT, traceparent.getString("parent_id"));
        assertTrue(traceparent.getBoolean("sampled"));
        assertEquals(JsonValue.NULL, headers.get("stream"));
        assertEquals(JsonValue.NULL, headers.get("idempotency_key"));
        JsonObject domain = metadata.getJsonObject("domain");
        assertEquals("EVENT", domain.getString("kind"));
        assertEquals("corr-42", domain.getString("correlation_id"), "the chain's correlation id");
        assertEquals("interop::order-810a-0.1", domain.getString("causation_id"), "caused by the handled event");
        JsonObject envelope = metadata.getJsonObject("envelope");
        assertEquals("1.0", envelope.getString("specversion"));
        assertEquals(JsonValue.NULL, envelope.get("checksum"), "no checksum: Protean does not check one");
        System.out.println("Courier-published envelope: " + entry.getFields().get("data"));
    }

    @Test
    void an_event_published_outside_a_handler_starts_a_chain_and_bad_events_are_refused() {
        Broker broker = app.broker();
        DomainEvent event = DomainEvent.of("Interop.OrderCancelled.v1", new OrderPlaced("9", "y"));
        broker.publish("shipments", event.withTraceparent("00-" + TRACE + "-" + PARENT + "-00"));
        StreamEntry entry = jedis.xrange("shipments", (StreamEntryID) null, (StreamEntryID) null).get(0);
        JsonObject published = json(entry.getFields().get("data"));
        assertEquals(json("{\"order_id\":\"9\",\"sku\":\"y\"}"), published.getJsonObject("data"));
        JsonObject headers = published.getJsonObject("metadata").getJsonObject("headers");
        assertEquals(event.id(), headers.getString("id"));
        assertFalse(headers.getJsonObject("traceparent").getBoolean("sampled"));
        JsonObject domain = published.getJsonObject("metadata").getJsonObject("domain");
        assertEquals(event.id(), domain.getString("correlation_id"), "a root event correlates with itself");
        assertEquals(JsonValue.NULL, domain.get("causation_id"));

        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> broker.publish("shipments", DomainEvent.of("Interop.Empty.v1", Map.of())));
        assertTrue(empty.getMessage().contains("Interop.Empty.v1"), empty.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DomainEvent.of(" ", Map.of("a", 1)));
        assertThrows(IllegalArgumentException.class, () -> event.withTraceparent("not-a-trace"));
        assertEquals(1, jedis.xlen("shipments"), "nothing sent for the refused ones");
    }

    @Test
    void messages_no_method_wants_are_counted_in_liveness_and_logged_once_per_type() {
        List<String> logged = new CopyOnWriteArrayList<>();
        Logger logger = Logger.getLogger("dev.courier.engine");
        Level level = logger.getLevel();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                String text = record.getParameters() == null ? record.getMessage()
                        : MessageFormat.format(record.getMessage(), record.getParameters());
                if (text.contains("no method wants")) {
                    logged.add(text);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.setLevel(Level.FINE);
        logger.addHandler(capture);
        try {
            Shipping shipping = app.bean(Shipping.class);
            String typo = PROTEAN_EVENT.replace("Interop.OrderPlaced.v1", "Interop.OrderPlacd.v1");
            for (int i = 0; i < 3; i++) {
                jedis.xadd("orders", XAddParams.xAddParams(), Map.of("data", typo));
            }
            jedis.xadd("orders", XAddParams.xAddParams(), Map.of("data", "{\"order_id\":\"1\"}"));
            jedis.xadd("orders", XAddParams.xAddParams(), Map.of("data", PROTEAN_EVENT));
            String group = Shipping.class.getName();
            await().atMost(WAIT).until(() -> Inspect.loop(app.engine(), "orders", group).skipped() == 4
                    && shipping.placed().size() == 1);
            LoopStatus loop = Inspect.loop(app.engine(), "orders", group);
            assertEquals(1, loop.handled());

            JsonObject live = app.bean(SmallRyeHealthReporter.class).getLiveness().getPayload()
                    .getJsonArray("checks").getJsonObject(0).getJsonObject("data");
            assertEquals(4, live.getJsonNumber("default/orders/" + group + ".skipped").intValue());
            assertEquals(2, logged.size(), "once per type: " + logged);
            assertTrue(logged.get(0).contains("'Interop.OrderPlacd.v1'")
                    && logged.get(0).contains("'Interop.OrderPlaced.v1'"), logged.get(0));
            assertTrue(logged.get(1).contains("no metadata.headers.type, event_type or type"), logged.get(1));
            System.out.println("skipped, logged as: " + logged.get(0));
        } finally {
            logger.removeHandler(capture);
            logger.setLevel(level);
        }
    }
}
