package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerException;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.PublishOutcomeUnknownException;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.LocalRedisCluster;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedisCluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.util.JedisClusterCRC16;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Redis brokers on a real Redis Cluster of 3 masters, each with a replica: what the contract suite
 * ({@link RedisClusterContractTest}) does not show. The failover test runs last: it kills a master.
 */
@WithRedisCluster
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RedisClusterTest {

    private static LocalRedisCluster cluster;
    private final List<Broker> brokers = new ArrayList<>();

    @BeforeAll
    static void cluster(LocalRedisCluster started) {
        cluster = started;
    }

    @AfterEach
    void closeBrokers() {
        brokers.forEach(Broker::close);
        brokers.clear();
    }

    private Broker broker(String provider, Map<String, String> more) {
        Map<String, String> options = new HashMap<>(Map.of("uri", cluster.uri()));
        options.putAll(more);
        Broker broker = (provider.equals(RedisBrokerProvider.NAME) ? new RedisBrokerProvider()
                : new RedisPubSubBrokerProvider()).create("cluster", new BrokerSettings("cluster", provider, options));
        brokers.add(broker);
        return broker;
    }

    /** A new stream name per master: streams.get(i) lives on a master of its own. */
    private static List<String> streamsOnEachMaster(String prefix) {
        Map<Integer, String> byMaster = new HashMap<>();
        for (int i = 0; byMaster.size() < 3; i++) {
            String stream = prefix + "-" + UUID.randomUUID();
            byMaster.putIfAbsent(cluster.masterOf(stream).port(), stream);
        }
        return List.copyOf(byMaster.values());
    }

    private static long xlen(String stream) {
        return (Long) cluster.masterOf(stream).command("XLEN", stream);
    }

    @Test
    @Order(1)
    void health_and_info_answer_on_a_cluster_and_show_its_seeds() {
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of());
        broker.publish("orders", Map.of("n", 1));
        HealthStats stats = broker.healthStats();
        assertEquals(HealthStats.Status.HEALTHY, stats.status(), stats.toString());
        assertTrue(stats.connected());
        assertTrue(String.valueOf(stats.details().get("uri")).startsWith("redis-cluster://127.0.0.1:"),
                stats.toString());
        assertEquals(1L, ((Map<?, ?>) ((Map<?, ?>) broker.info().get("streams")).get("orders")).get("length"));
    }

    @Test
    @Order(2)
    void concurrent_publishes_to_streams_on_every_master_each_land_in_their_stream() throws Exception {
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of());
        List<String> streams = streamsOnEachMaster("spread");
        ExecutorService publishers = Executors.newFixedThreadPool(12);
        try {
            List<Future<String>> ids = new ArrayList<>();
            for (int i = 0; i < 600; i++) {
                String stream = streams.get(i % 3);
                int n = i;
                ids.add(publishers.submit(() -> broker.publish(stream, Map.of("n", n))));
            }
            for (Future<String> id : ids) {
                assertTrue(RedisBroker.isEntryId(id.get()), id.get());
            }
        } finally {
            publishers.shutdownNow();
        }
        for (String stream : streams) {
            assertEquals(200L, xlen(stream), stream);
        }
    }

    @Test
    @Order(3)
    void publish_all_goes_to_the_master_of_its_stream_and_a_group_reads_it_in_order() {
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of());
        for (String stream : streamsOnEachMaster("batch")) {
            List<Map<String, Object>> payloads = IntStream.range(0, 250).mapToObj(i -> Map.<String, Object>of("n", i))
                    .toList();
            List<String> ids = broker.publishAll(stream, payloads);
            assertEquals(250, ids.size());
            List<Message> read = new ArrayList<>();
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                List<Message> batch = broker.read(stream, "g", 100);
                read.addAll(batch);
                broker.ackAll(stream, batch.stream().map(Message::id).toList(), "g");
                return read.size() >= 250;
            });
            assertEquals(ids, read.stream().map(Message::id).toList(), stream);
        }
    }

    @Test
    @Order(3)
    void acks_that_ride_on_the_next_read_are_applied_on_every_master_with_and_without_blocking() {
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of());
        for (String stream : streamsOnEachMaster("ride")) {
            List<String> first = broker.publishAll(stream, List.of(Map.of("n", 1), Map.of("n", 2)));
            assertEquals(first, broker.read(stream, "g", 10).stream().map(Message::id).toList(), stream);
            String third = broker.publish(stream, Map.of("n", 3));
            // The engine's read: the acks of the batch handled, then the next read, in one round trip.
            List<Message> next = broker.read(stream, "g", 10, Duration.ofMillis(200), first);
            assertEquals(List.of(third), next.stream().map(Message::id).toList(), stream);
            assertEquals(1L, pendingCount(stream), stream + ": only the third is pending, the first two acked");
            List<Message> empty = broker.read(stream, "g", 10, Duration.ZERO, List.of(third));
            assertTrue(empty.isEmpty(), stream);
            assertEquals(0L, pendingCount(stream), stream);
        }
    }

    private static long pendingCount(String stream) {
        return (Long) ((List<?>) cluster.masterOf(stream).command("XPENDING", stream, "g")).get(0);
    }

    @Test
    @Order(4)
    void a_list_without_a_hash_tag_is_refused_for_reading_naming_the_hash_tag_to_use() {
        Broker lists = broker(RedisPubSubBrokerProvider.NAME, Map.of());
        lists.publish("notifications", Map.of("to", "a")); // RPUSH alone works on any key
        BrokerException e = assertThrows(BrokerException.class, () -> lists.read("notifications", "mailer", 10));
        assertTrue(e.getMessage().contains("'{notifications}'"), e.getMessage());
        Broker trimmed = broker(RedisPubSubBrokerProvider.NAME, Map.of("max-length", "10"));
        assertThrows(BrokerException.class, () -> trimmed.publish("notifications", Map.of("to", "b")),
                "refused before the RPUSH, not after it");
        assertEquals(1L, (Long) cluster.masterOf("notifications").command("LLEN", "notifications"));
    }

    @Test
    @Order(5)
    void a_list_with_a_hash_tag_keeps_its_positions_in_its_slot_and_is_read_and_trimmed() {
        Broker lists = broker(RedisPubSubBrokerProvider.NAME, Map.of("max-length", "20"));
        String stream = "{mail-" + UUID.randomUUID() + "}";
        for (int i = 0; i < 50; i++) {
            lists.publish(stream, Map.of("n", i));
        }
        List<Message> read = lists.read(stream, "mailer", 100);
        assertEquals(IntStream.range(0, 50).boxed().toList(), numbers(read), "no group yet: nothing was trimmed");
        lists.publish(stream, Map.of("n", 50));
        lists.publish(stream, Map.of("n", 51)); // trims (every max-length / 10): the group has read what is cut
        assertEquals(List.of(50, 51), numbers(lists.read(stream, "mailer", 100)));
        assertEquals(20L, xlenOfList(stream), "trimmed to max-length");
    }

    private static List<Integer> numbers(List<Message> messages) {
        return messages.stream().map(m -> ((Number) m.payload().get("n")).intValue()).toList();
    }

    private static long xlenOfList(String list) {
        return (Long) cluster.masterOf(list).command("LLEN", list);
    }

    @Test
    @Order(4)
    void a_hash_tagged_stream_dead_letters_in_one_script_and_another_in_two_steps_both_into_stream_dlq() {
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of("max-retries", "0"));
        for (String stream : List.of("{tagged-" + UUID.randomUUID() + "}", "plain-" + UUID.randomUUID())) {
            String id = broker.publish(stream, Map.of("n", 1));
            RedisServer master = cluster.masterOf(stream);
            master.command("CONFIG", "RESETSTAT");
            assertEquals(id, broker.getNext(stream, "g").orElseThrow().id());
            assertTrue(broker.nack(stream, id, "g")); // max-retries 0: dead-lettered
            assertEquals(List.of(id), broker.deadLetters(stream, 10).stream().map(d -> d.message().id()).toList());
            assertEquals(0L, ((List<?>) master.command("XPENDING", stream, "g")).get(0), "acknowledged");
            String stats = new String((byte[]) master.command("INFO", "commandstats"));
            boolean tagged = stream.startsWith("{");
            assertEquals(tagged, stats.contains("cmdstat_evalsha") || stats.contains("cmdstat_eval:"), stream);
            assertEquals(tagged, JedisClusterCRC16.getSlot(stream) == JedisClusterCRC16.getSlot(stream + ":dlq"),
                    "{...}:dlq is in its stream's slot, :dlq of a plain name elsewhere");
            assertEquals(1L, xlen(stream + ":dlq"));
        }
    }

    @Test
    @Order(6)
    void with_min_replicas_acked_a_publish_returns_once_the_replica_holds_it() throws Exception {
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of("min-replicas-acked", "1"));
        List<String> streams = streamsOnEachMaster("durable");
        ExecutorService publishers = Executors.newFixedThreadPool(8);
        try {
            // Concurrent publishes share pipelines, one per master, each followed by its WAIT.
            List<Future<String>> ids = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                String stream = streams.get(i % 3);
                ids.add(publishers.submit(() -> broker.publish(stream, Map.of("n", 0))));
            }
            for (Future<String> id : ids) {
                id.get();
            }
        } finally {
            publishers.shutdownNow();
        }
        for (String stream : streams) {
            assertEquals(2, broker.publishAll(stream, List.of(Map.of("n", 2), Map.of("n", 3))).size());
            assertEquals(102L, xlen(stream));
            RedisServer replica = replicaOf(stream);
            try (Jedis onReplica = new Jedis(replica.host(), replica.port())) {
                onReplica.readonly(); // reads of a replica's slots, as a cluster client asks for them
                assertEquals(102L, onReplica.xlen(stream), "the replica held them when publish returned");
            }
        }
    }

    @Test
    @Order(7)
    void with_the_replica_stopped_a_publish_with_min_replicas_acked_is_of_unknown_outcome_and_one_without_returns() {
        Broker durable = broker(RedisBrokerProvider.NAME, Map.of("min-replicas-acked", "1", "socket-timeout", "0.2"));
        Broker plain = broker(RedisBrokerProvider.NAME, Map.of());
        String stream = streamsOnEachMaster("stopped-replica").get(0);
        durable.publish(stream, Map.of("n", 0)); // connected while the replica answers
        RedisServer replica = replicaOf(stream);
        replica.pause(); // SIGSTOP, for less than cluster-node-timeout: no failover
        try {
            PublishOutcomeUnknownException e = assertThrows(PublishOutcomeUnknownException.class,
                    () -> durable.publish(stream, Map.of("n", 1)));
            assertTrue(e.getMessage().contains("stream '" + stream + "'") && e.getMessage().contains("only 0 of the 1")
                    && e.getMessage().contains("min-replicas-acked"), e.getMessage());
            assertThrows(PublishOutcomeUnknownException.class,
                    () -> durable.publishAll(stream, List.of(Map.of("n", 2), Map.of("n", 3))));
            plain.publish(stream, Map.of("n", 4));
        } finally {
            replica.resume();
        }
        assertEquals(5L, xlen(stream), "stored on the master all the same");
        cluster.awaitHealthy(Duration.ofSeconds(30));
    }

    /** The node that replicates the master of {@code stream}. */
    private static RedisServer replicaOf(String stream) {
        int master = cluster.masterOf(stream).port();
        return cluster.nodes().stream().filter(n -> n.command("INFO", "replication") instanceof byte[] info
                && new String(info).contains("master_port:" + master)).findFirst().orElseThrow();
    }

    @Test
    @Order(8)
    void priority_lanes_work_where_the_stream_and_its_lane_are_on_different_masters() {
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of("priority-lanes", "true"));
        String stream;
        do {
            stream = "laned-" + UUID.randomUUID();
        } while (cluster.masterOf(stream).port() == cluster.masterOf(stream + ":backfill").port());
        Map<String, Object> low = Map.of("data", Map.of("n", 1), "metadata", Map.of("headers",
                Map.of("type", "T.Low.v1"), "domain", Map.of("priority", -50)));
        Map<String, Object> high = Map.of("data", Map.of("n", 2), "metadata", Map.of("headers",
                Map.of("type", "T.High.v1"), "domain", Map.of("priority", 0)));
        List<String> ids = broker.publishAll(stream, List.of(low, high, low));
        assertEquals(3, ids.size());
        assertEquals(1, xlen(stream));
        assertEquals(2, xlen(stream + ":backfill"));

        List<Message> first = broker.read(stream, "g", 10);
        assertEquals(List.of("T.High.v1"), first.stream().map(Message::type).toList());
        assertEquals(1, broker.ackAll(stream, first.stream().map(Message::id).toList(), "g"));
        List<Message> lane = broker.read(stream, "g", 10);
        assertEquals(List.of("T.Low.v1", "T.Low.v1"), lane.stream().map(Message::type).toList());
        assertEquals(2, broker.ackAll(stream, lane.stream().map(Message::id).toList(), "g"));
    }

    @Test
    @Order(100)
    void a_publish_refused_by_a_killed_master_is_retried_until_its_replica_takes_over_and_a_blocked_read_resumes()
            throws Exception {
        List<String> streams = streamsOnEachMaster("failover");
        String stream = streams.get(0);
        String elsewhere = streams.get(1);
        RedisServer master = cluster.masterOf(stream);
        Broker impatient = broker(RedisBrokerProvider.NAME, Map.of("failover-timeout", "0.3"));
        Broker patient = broker(RedisBrokerProvider.NAME, Map.of());
        Broker reader = broker(RedisBrokerProvider.NAME, Map.of());
        // Connected, and with no connection to the master that will die.
        impatient.publish(elsewhere, Map.of("n", 0));
        patient.publish(elsewhere, Map.of("n", 0));
        FailoverCheck.killDuringABlockedRead("cluster", master, stream, impatient, patient, reader, () -> { });
        // The node asked may learn of the promotion by gossip after the client found the new master.
        await("the cluster names another master").atMost(Duration.ofSeconds(10)).ignoreExceptions()
                .until(() -> cluster.masterOf(stream).port() != master.port());
        // The killed master stays down: this test runs last, and a restart would only add the wait for it.
    }
}
