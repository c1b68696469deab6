package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerConfigurationException;
import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XPendingParams;
import redis.clients.jedis.resps.StreamGroupInfo;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Protean's priority lanes on the redis provider: entries a Protean publisher wrote to {@code <stream>:backfill} are
 * read once the stream has nothing, settled on the lane, survive a crash, and Courier's own publishes are routed by
 * priority as Protean routes them.
 */
@WithRedis
class PriorityLanesTest {

    private static final Duration MESSAGE_TIMEOUT = Duration.ofSeconds(2);

    private final List<Broker> brokers = new ArrayList<>();
    private Jedis protean;
    private String stream;
    private String lane;

    @BeforeEach
    void connect(RedisServer redis) {
        stream = "orders-" + UUID.randomUUID();
        lane = stream + ":backfill";
        protean = new Jedis(redis.host(), redis.port());
    }

    @AfterEach
    void close() {
        brokers.forEach(Broker::close);
        protean.close();
    }

    private RedisBroker broker(RedisServer redis, String consumer, Map<String, String> options) {
        Map<String, String> more = new HashMap<>(Map.of("consumer-name", consumer, "priority-lanes", "true"));
        more.putAll(options);
        RedisBroker broker = (RedisBroker) new RedisBrokerProvider().create("test", RedisBrokerContractTest.settings(
                redis.uri(), new RetryPolicy(2, Duration.ofMillis(50), 1.0, MESSAGE_TIMEOUT, true), more));
        brokers.add(broker);
        return broker;
    }

    /** A Protean event as {@code Message.to_dict()} writes it, with this priority. */
    private static String envelope(String orderId, int priority) {
        return "{\"data\": {\"order_id\": \"" + orderId + "\"}, \"metadata\": {\"headers\": {\"id\": \"e-" + orderId
                + "\", \"time\": \"2026-12-01T09:52:32.626327+00:00\", \"type\": \"Shop.OrderPlaced.v1\", "
                + "\"stream\": \"shop::order-" + orderId + "\", \"traceparent\": null, \"idempotency_key\": null, "
                + "\"deadline\": null}, \"envelope\": {\"specversion\": \"1.0\", \"checksum\": null}, \"domain\": "
                + "{\"fqn\": \"shop.OrderPlaced\", \"kind\": \"EVENT\", \"stream_category\": \"shop::order\", "
                + "\"version\": 1, \"sequence_id\": \"0.1\", \"asynchronous\": true, \"expected_version\": -1, "
                + "\"priority\": " + priority + ", \"correlation_id\": null, \"causation_id\": null}, "
                + "\"event_store\": null, \"extensions\": {}}}";
    }

    /** What a Protean publisher writes: {@code XADD <stream> * data <json>}. */
    private String proteanXadd(String to, String orderId, int priority) {
        return protean.xadd(to, StreamEntryID.NEW_ENTRY, Map.of("data", envelope(orderId, priority))).toString();
    }

    private static List<String> orderIds(List<Message> messages) {
        return messages.stream().map(m -> String.valueOf(((Map<?, ?>) m.event().orElseThrow().data()).get("order_id")))
                .toList();
    }

    private long pending(String key, String group) {
        return protean.xpending(key, group, XPendingParams.xPendingParams().count(100)).size();
    }

    private List<String> entries(String key) {
        return protean.xrange(key, (StreamEntryID) null, (StreamEntryID) null).stream()
                .map(e -> e.getFields().get("data")).toList();
    }

    @Test
    void the_stream_is_handled_before_its_lane_and_the_lanes_entries_are_acknowledged_on_the_lane(
            RedisServer redis) {
        String low1 = proteanXadd(lane, "l1", -50);
        proteanXadd(lane, "l2", -100);
        proteanXadd(stream, "p1", 0);
        proteanXadd(stream, "p2", 50);
        RedisBroker broker = broker(redis, "c1", Map.of());

        List<Message> first = broker.read(stream, "g", 10);
        assertEquals(List.of("p1", "p2"), orderIds(first), "the stream first, though the lane's entries are older");
        assertEquals(List.of(stream, stream), first.stream().map(Message::stream).toList());
        assertTrue(protean.xinfoGroups(lane).stream().map(StreamGroupInfo::getName).anyMatch("g"::equals),
                "the lane's group is created at the first read, as the stream's");
        assertEquals(2, broker.ackAll(stream, first.stream().map(Message::id).toList(), "g"));

        List<Message> second = broker.read(stream, "g", 10);
        assertEquals(List.of("l1", "l2"), orderIds(second), "the lane once the stream has nothing");
        assertEquals(List.of(lane, lane), second.stream().map(Message::stream).toList());
        assertEquals("backfill:" + low1, second.get(0).id());
        assertEquals(2, pending(lane, "g"));
        // A new entry of the stream comes before what the lane still has.
        proteanXadd(lane, "l3", -50);
        proteanXadd(stream, "p3", 0);
        assertEquals(1, broker.ackAll(stream, List.of(second.get(0).id()), "g"), "acknowledged on the lane");
        assertTrue(broker.ack(stream, second.get(1).id(), "g"));
        assertEquals(0, pending(lane, "g"));
        assertEquals(0, pending(stream, "g"));
        assertEquals(List.of("p3"), orderIds(broker.read(stream, "g", 10)));
    }

    @Test
    void the_lanes_acks_ride_with_the_next_read_and_a_blocking_read_still_finds_the_lane(RedisServer redis) {
        RedisBroker broker = broker(redis, "c1", Map.of());
        proteanXadd(lane, "l1", -50);
        List<Message> low = broker.read(stream, "g", 10, Duration.ofMillis(500));
        assertEquals(List.of("l1"), orderIds(low));
        proteanXadd(stream, "p1", 0);
        List<Message> next = broker.read(stream, "g", 10, Duration.ofMillis(500),
                low.stream().map(Message::id).toList());
        assertEquals(List.of("p1"), orderIds(next));
        assertEquals(0, pending(lane, "g"), "the lane's ack went with the read of the stream");
        assertEquals(1, pending(stream, "g"));
    }

    @Test
    void a_lanes_entries_read_and_not_acknowledged_are_delivered_again_after_a_crash(RedisServer redis) {
        proteanXadd(lane, "l1", -50);
        proteanXadd(lane, "l2", -50);
        RedisBroker crashed = broker(redis, "c1", Map.of());
        assertEquals(List.of("l1", "l2"), orderIds(crashed.read(stream, "g", 10)));
        crashed.close(); // no ack: what a killed instance leaves
        assertEquals(2, pending(lane, "g"), "left pending on the lane");

        // The same instance, started again under its stable name, gets its own left-over entries first.
        RedisBroker restarted = broker(redis, "c1", Map.of());
        List<Message> again = restarted.read(stream, "g", 10);
        assertEquals(List.of("l1", "l2"), orderIds(again));
        assertEquals(List.of(2, 2), again.stream().map(Message::deliveryCount).toList());

        // Another instance claims them once message-timeout passed (XAUTOCLAIM on the lane).
        RedisBroker other = broker(redis, "c2", Map.of());
        List<Message> claimed = new ArrayList<>();
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            claimed.addAll(other.read(stream, "g", 10));
            return claimed.size() >= 2;
        });
        assertEquals(List.of("l1", "l2"), orderIds(claimed));
        assertEquals(2, other.ackAll(stream, claimed.stream().map(Message::id).toList(), "g"));
        assertEquals(0, pending(lane, "g"));
    }

    @Test
    void a_rejected_lane_message_comes_again_from_the_lane_then_goes_to_the_lanes_dead_letters(RedisServer redis) {
        String id = proteanXadd(lane, "l1", -50);
        RedisBroker broker = broker(redis, "c1", Map.of());
        Message first = broker.read(stream, "g", 10).get(0);
        assertTrue(broker.nack(stream, first.id(), "g"));
        List<Message> retried = new ArrayList<>();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            retried.addAll(broker.read(stream, "g", 10));
            return !retried.isEmpty();
        });
        assertEquals(first.id(), retried.get(0).id());
        assertEquals(2, retried.get(0).deliveryCount());
        assertTrue(broker.moveToDeadLetters(stream, retried.get(0).id(), "g", "handler_failed"));

        assertEquals(0, pending(lane, "g"));
        List<DeadLetter> letters = broker.deadLetters(lane, 10);
        assertEquals(1, letters.size(), "in " + lane + ":dlq, where Protean keeps the lane's dead letters");
        assertEquals(id, letters.get(0).message().id());
        assertEquals(lane, letters.get(0).message().stream());
        assertEquals(List.of(), broker.deadLetters(stream, 10));
    }

    @Test
    void publishing_routes_a_message_below_the_threshold_to_the_lane(RedisServer redis) {
        RedisBroker broker = broker(redis, "c1", Map.of());
        broker.publish(stream, protean(envelope("low", -50)));
        broker.publish(stream, protean(envelope("normal", 0)));
        broker.publish(stream, Map.of("plain", 1));
        List<String> ids = broker.publishAll(stream, List.of(protean(envelope("b1", -100)),
                protean(envelope("b2", 50)), protean(envelope("b3", -1))));

        assertEquals(List.of(envelope("low", -50), envelope("b1", -100), envelope("b3", -1)).size(),
                entries(lane).size());
        assertTrue(entries(lane).get(0).contains("\"low\""));
        assertTrue(entries(lane).get(1).contains("\"b1\"") && entries(lane).get(2).contains("\"b3\""));
        List<String> primary = entries(stream);
        assertEquals(3, primary.size());
        assertTrue(primary.get(0).contains("\"normal\"") && primary.get(1).contains("plain")
                && primary.get(2).contains("\"b2\""));
        // The ids come back in the batch's order, each the id of its own stream's entry.
        assertEquals(protean.xrange(lane, (StreamEntryID) null, (StreamEntryID) null).get(1).getID().toString(),
                ids.get(0));
        assertEquals(protean.xrange(stream, (StreamEntryID) null, (StreamEntryID) null).get(2).getID().toString(),
                ids.get(1));

        RedisBroker raised = broker(redis, "c2", Map.of("priority-lanes-threshold", "10"));
        String other = stream + "-2";
        raised.publish(other, Map.of("plain", 1));
        raised.publish(other, protean(envelope("high", 50)));
        assertEquals(1, entries(other + ":backfill").size(), "no priority counts as NORMAL (0), below 10");
        assertEquals(1, entries(other).size());
    }

    @Test
    void without_lanes_every_message_goes_to_the_stream_and_the_lane_is_not_read(RedisServer redis) {
        RedisBroker broker = broker(redis, "c1", Map.of("priority-lanes", "false"));
        broker.publish(stream, protean(envelope("low", -100)));
        proteanXadd(lane, "l1", -50);
        assertEquals(1, entries(stream).size());
        assertEquals(List.of("low"), orderIds(broker.read(stream, "g", 10)));
        assertEquals(List.of(), broker.read(stream, "g", 10));
    }

    @Test
    void a_custom_suffix_names_the_lane(RedisServer redis) {
        RedisBroker broker = broker(redis, "c1", Map.of("backfill-suffix", "bulk"));
        broker.publish(stream, protean(envelope("low", -50)));
        assertEquals(1, entries(stream + ":bulk").size());
        Message m = broker.read(stream, "g", 10).get(0);
        assertEquals("bulk:" + protean.xrange(stream + ":bulk", (StreamEntryID) null, (StreamEntryID) null).get(0)
                .getID(), m.id());
        assertTrue(broker.ack(stream, m.id(), "g"));
        assertEquals(0, pending(stream + ":bulk", "g"));
    }

    @Test
    void a_partitioned_message_below_the_threshold_goes_to_its_keys_lane(RedisServer redis) {
        RedisBroker broker = broker(redis, "c1", Map.of("partition-key." + stream, "order_id"));
        broker.publish(stream, protean(envelope("7", -50)));
        broker.publishAll(stream, List.of(protean(envelope("7", 0)), protean(envelope("8", -100))));
        assertEquals(1, entries(stream + ":7:backfill").size());
        assertEquals(1, entries(stream + ":7").size());
        assertEquals(1, entries(stream + ":8:backfill").size());
        assertFalse(protean.exists(stream + ":8"));
        assertEquals(java.util.Set.of("7", "8"), protean.smembers(stream + ":__partitions__"));
        assertThrows(IllegalArgumentException.class, () -> broker.publish(stream, protean(envelope("backfill", 0))));
    }

    /** Reads (and acknowledges) until {@code n} messages came or 20 s passed. */
    private List<Message> consume(RedisBroker broker, String from, int n, boolean acknowledge) {
        List<Message> got = new ArrayList<>();
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            List<Message> batch = broker.read(from, "g", 10, Duration.ofMillis(100));
            got.addAll(batch);
            if (acknowledge && !batch.isEmpty()) {
                broker.ackAll(from, batch.stream().map(Message::id).toList(), "g");
            }
            return got.size() >= n;
        });
        return got;
    }

    private Map<String, String> partitioned(String... more) {
        Map<String, String> options = new HashMap<>(Map.of("partition-key." + stream, "order_id",
                "partition-lease-ttl", "1"));
        for (int i = 0; i < more.length; i += 2) {
            options.put(more[i], more[i + 1]);
        }
        return options;
    }

    /** A Protean publisher's partitioned write: SADD to the index, XADD to the key's stream or its lane. */
    private void proteanPartitioned(String key, boolean toLane, String orderId) {
        protean.sadd(stream + ":__partitions__", key);
        proteanXadd(stream + ":" + key + (toLane ? ":backfill" : ""), orderId, toLane ? -50 : 0);
    }

    @Test
    void a_partitioned_keys_lane_is_read_under_the_keys_lease_once_its_stream_has_nothing(RedisServer redis) {
        proteanPartitioned("7", true, "l1");
        proteanPartitioned("7", true, "l2");
        proteanPartitioned("7", false, "p1");
        proteanPartitioned("7", false, "p2");
        RedisBroker broker = broker(redis, "c1", partitioned());

        List<Message> got = consume(broker, stream, 4, true);
        assertEquals(List.of("p1", "p2", "l1", "l2"), orderIds(got), "the key's stream first, then its lane");
        String laneStream = stream + ":7:backfill";
        assertEquals(List.of(stream + ":7", stream + ":7", laneStream, laneStream),
                got.stream().map(Message::stream).toList());
        assertTrue(got.get(2).id().startsWith("7:backfill:"), got.get(2).id());
        assertEquals(0, pending(laneStream, "g"), "acknowledged on the lane, fenced by the key's lease");
        assertEquals(0, pending(stream + ":7", "g"));
        String token = protean.get("g:7:__lease__");
        assertTrue(protean.xinfoConsumers2(laneStream, "g").stream().anyMatch(c -> c.getName().equals(token)),
                "read under the key's token: " + token);

        // A key found later gets its group on the lane as on its stream, before anything is read there.
        proteanPartitioned("8", false, "p3");
        consume(broker, stream, 1, true);
        assertTrue(protean.xinfoGroups(stream + ":8:backfill").stream().anyMatch(g -> g.getName().equals("g")));
    }

    @Test
    void a_lane_entry_read_by_an_owner_that_went_away_is_reclaimed_by_the_next_owner(RedisServer redis) {
        proteanPartitioned("7", true, "l1");
        RedisBroker first = broker(redis, "c1", partitioned());
        assertEquals(List.of("l1"), orderIds(consume(first, stream, 1, false)));
        String laneStream = stream + ":7:backfill";
        assertEquals(1, pending(laneStream, "g"));
        first.close(); // gives the lease back; the entry stays pending under its token, never acknowledged

        RedisBroker next = broker(redis, "c2", partitioned());
        List<Message> again = consume(next, stream, 1, true);
        assertEquals(List.of("l1"), orderIds(again));
        assertEquals(0, pending(laneStream, "g"));
    }

    @Test
    void a_key_is_not_reaped_while_its_lane_holds_entries_not_handled(RedisServer redis) {
        // This instance has lanes off: Protean wrote to key 7's lane, which nobody here reads.
        proteanPartitioned("7", false, "p1");
        proteanPartitioned("7", true, "l1");
        proteanPartitioned("8", false, "p2");
        RedisBroker broker = broker(redis, "c1", partitioned("priority-lanes", "false", "partition-reap-idle", "1"));
        assertEquals(java.util.Set.of("p1", "p2"), java.util.Set.copyOf(orderIds(consume(broker, stream, 2, true))));

        await().atMost(Duration.ofSeconds(20)).until(() -> !protean.exists(stream + ":8"));
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() ->
                protean.sismember(stream + ":__partitions__", "7") && protean.exists(stream + ":7:backfill"));
        assertEquals(1, entries(stream + ":7:backfill").size());
    }

    @Test
    void a_key_and_its_lane_are_reaped_together_once_both_are_handled(RedisServer redis) {
        proteanPartitioned("7", false, "p1");
        proteanPartitioned("7", true, "l1");
        RedisBroker broker = broker(redis, "c1", partitioned("partition-reap-idle", "1"));
        assertEquals(List.of("p1", "l1"), orderIds(consume(broker, stream, 2, true)));

        await().atMost(Duration.ofSeconds(20)).until(() -> !protean.exists(stream + ":7")
                && !protean.exists(stream + ":7:backfill"));
        assertFalse(protean.sismember(stream + ":__partitions__", "7"));
        assertTrue(protean.exists("g:7:__generation__"), "the generation stays, as Protean keeps it");
    }

    @Test
    void a_halt_on_a_keys_lane_stops_the_lane_only_until_an_operator_skips_its_head(RedisServer redis) {
        proteanPartitioned("7", true, "bad");
        proteanPartitioned("7", true, "l2");
        RedisBroker broker = broker(redis, "c1", partitioned("partition-poison.g", "halt"));
        List<String> handled = new ArrayList<>();
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            for (Message m : broker.read(stream, "g", 10, Duration.ofMillis(100))) {
                if (orderIds(List.of(m)).get(0).equals("bad")) {
                    broker.nack(stream, m.id(), "g");
                } else {
                    handled.add(orderIds(List.of(m)).get(0));
                    broker.ack(stream, m.id(), "g");
                }
            }
            return !broker.halted(stream, "g").isEmpty();
        });
        assertEquals("7:backfill", broker.halted(stream, "g").get(0).key());
        assertEquals(List.of(), handled, "the lane's next message waits behind its halted head");

        proteanPartitioned("7", false, "p1");
        assertEquals(List.of("p1"), orderIds(consume(broker, stream, 1, true)), "the key's stream goes on");

        assertTrue(broker.skip(stream, "g", "7:backfill"));
        assertEquals(List.of("l2"), orderIds(consume(broker, stream, 1, true)));
        assertEquals(0, pending(stream + ":7:backfill", "g"), "the head skipped (acknowledged), l2 handled");
    }

    /** A subscriber of the stream the engine test uses, recording the order ids it handled, in order. */
    @jakarta.enterprise.context.ApplicationScoped
    static class LaneSubscriber {
        static final String STREAM = "lanes-engine-orders";
        final List<String> handled = new java.util.concurrent.CopyOnWriteArrayList<>();

        /** Through the bean's client proxy, which has no fields of its own. */
        List<String> handled() {
            return handled;
        }

        void on(@dev.courier.Subscribe(stream = STREAM) Message message) {
            handled.add(String.valueOf(((Map<?, ?>) message.event().orElseThrow().data()).get("order_id")));
        }
    }

    @Test
    void the_engine_handles_the_lane_after_the_stream_and_acknowledges_on_the_lane(RedisServer redis) {
        String laneStream = LaneSubscriber.STREAM + ":backfill";
        proteanXadd(laneStream, "l1", -50);
        proteanXadd(laneStream, "l2", -50);
        proteanXadd(LaneSubscriber.STREAM, "p1", 0);
        String group = LaneSubscriber.class.getName();
        try (dev.courier.testing.Deployment app = dev.courier.testing.Deployment.of(Map.of(
                "brokers.default.provider", "redis", "brokers.default.uri", redis.uri(),
                "brokers.default.priority-lanes", "true"), LaneSubscriber.class)) {
            LaneSubscriber subscriber = app.bean(LaneSubscriber.class);
            await().atMost(Duration.ofSeconds(20)).until(() -> subscriber.handled().size() >= 3);
            assertEquals(List.of("p1", "l1", "l2"), subscriber.handled());
            await().atMost(Duration.ofSeconds(10)).until(() -> pending(laneStream, group) == 0
                    && pending(LaneSubscriber.STREAM, group) == 0);
            // An entry written to the lane while the loop waits on the stream is read at its next read.
            proteanXadd(laneStream, "l3", -50);
            await().atMost(Duration.ofSeconds(20)).until(() -> subscriber.handled().size() >= 4);
            assertEquals("l3", subscriber.handled().get(3));
        }
    }

    @Test
    void a_bad_lane_option_is_refused_naming_the_property(RedisServer redis) {
        for (Map.Entry<String, String> bad : List.of(Map.entry("backfill-suffix", "a:b"),
                Map.entry("backfill-suffix", "dlq"), Map.entry("backfill-suffix", "back fill"),
                Map.entry("backfill-suffix", "__lane__"), Map.entry("priority-lanes", "maybe"),
                Map.entry("priority-lanes-threshold", "low"))) {
            BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class,
                    () -> broker(redis, "c1", Map.of(bad.getKey(), bad.getValue())), bad.toString());
            assertEquals("brokers.contract." + bad.getKey(), e.property(), e.getMessage());
        }
    }

    /** The envelope as the map a Courier application would publish (its JSON, parsed). */
    private static Map<String, Object> protean(String json) {
        return dev.courier.internal.JsonCodec.parse(json);
    }
}
