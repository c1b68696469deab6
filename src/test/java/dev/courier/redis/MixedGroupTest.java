package dev.courier.redis;

import dev.courier.Broker;
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
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.resps.StreamConsumerInfo;
import redis.clients.jedis.resps.StreamEntry;
import redis.clients.jedis.resps.StreamPendingEntry;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A group shared with a Protean consumer, which reads new entries and its own pending ones and never claims others':
 * once no Courier consumer is left, what Courier parked is handed over to it.
 */
@WithRedis
class MixedGroupTest {

    /** Long enough that a live consumer, which has just read, is never idle for this long on a loaded machine. */
    private static final Duration MESSAGE_TIMEOUT = Duration.ofSeconds(2);

    private final List<Broker> brokers = new ArrayList<>();
    private Jedis protean;
    private String stream;

    @BeforeEach
    void connect(RedisServer redis) {
        stream = "mixed-" + UUID.randomUUID();
        protean = new Jedis(redis.host(), redis.port());
    }

    @AfterEach
    void close() {
        brokers.forEach(Broker::close);
        protean.close();
    }

    private RedisBroker broker(RedisServer redis, String consumer) {
        RedisBroker broker = (RedisBroker) new RedisBrokerProvider().create("test", RedisBrokerContractTest.settings(
                redis.uri(), new RetryPolicy(3, Duration.ofSeconds(60), 1.0, MESSAGE_TIMEOUT, true),
                Map.of("consumer-name", consumer)));
        brokers.add(broker);
        return broker;
    }

    /** What a Protean consumer's read of its own pending entries (XREADGROUP ... 0) gives. */
    private List<String> proteanPending(String consumer) {
        var reply = protean.xreadGroup("g", consumer, XReadGroupParams.xReadGroupParams().count(100),
                Map.of(stream, new StreamEntryID()));
        List<String> ids = new ArrayList<>();
        if (reply != null) {
            for (Map.Entry<String, List<StreamEntry>> s : reply) {
                s.getValue().forEach(e -> ids.add(e.getID().toString()));
            }
        }
        return ids;
    }

    @Test
    void a_retired_courier_consumers_retries_and_held_entries_are_handed_to_a_protean_consumer(RedisServer redis) {
        RedisBroker retired = broker(redis, "courier-1");
        String nacked = retired.publish(stream, Map.of("n", 1));
        String held = retired.publish(stream, Map.of("n", 2));
        String proteanHolds = retired.publish(stream, Map.of("n", 3));
        List<Message> read = retired.read(stream, "g", 2);
        assertEquals(List.of(nacked, held), read.stream().map(Message::id).toList());
        assertTrue(retired.nack(stream, nacked, "g"), "waits for its retry (60 s) on courier-retry");
        retired.close();
        // A Protean consumer of the group reads the third one and is working on it.
        protean.xreadGroup("g", "protean-2", XReadGroupParams.xReadGroupParams().count(1),
                Map.of(stream, StreamEntryID.XREADGROUP_UNDELIVERED_ENTRY));
        assertEquals(List.of(), proteanPending("protean-1"), "Protean never claims what other consumers hold");

        await().atMost(Duration.ofSeconds(20)).until(() -> protean.xinfoConsumers2(stream, "g").stream()
                .filter(c -> c.getName().equals("courier-1")).mapToLong(StreamConsumerInfo::getIdle)
                .findFirst().orElse(0) > MESSAGE_TIMEOUT.toMillis());
        // Protean-2 is alive: it reads its own pending entries again and again (this delivers them to it again).
        assertEquals(List.of(proteanHolds), proteanPending("protean-2"));
        RedisBroker admin = broker(redis, "admin");
        assertThrows(IllegalArgumentException.class, () -> admin.handOver(stream, "g", RedisBroker.RETRY_CONSUMER));
        assertEquals(2, admin.handOver(stream, "g", "protean-1"));

        assertEquals(List.of(nacked, held), proteanPending("protean-1"), "its next read of its own entries");
        List<StreamPendingEntry> pending = protean.xpending(stream, "g",
                XPendingParams.xPendingParams().count(10));
        assertEquals(List.of("protean-1", "protean-1", "protean-2"),
                pending.stream().map(StreamPendingEntry::getConsumerName).toList(),
                "the entry a live consumer holds stays with it");
        assertEquals(proteanHolds, pending.get(2).getID().toString());
        assertEquals(0, admin.handOver(stream, "g", "protean-1"), "nothing left to hand over");
        assertEquals(0, admin.handOver(stream, "no-such-group", "protean-1"));
    }
}
