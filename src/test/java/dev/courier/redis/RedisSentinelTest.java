package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.HealthStats;
import dev.courier.BrokerConnectionException;
import dev.courier.PublishOutcomeUnknownException;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.LocalRedisSentinels;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedisSentinels;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;

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
 * The Redis brokers on a real Sentinel set (a master, one replica, three Sentinels): what the contract suite
 * ({@link RedisSentinelContractTest}) does not show. The failover test runs last: it kills the master.
 */
@WithRedisSentinels
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RedisSentinelTest {

    private static LocalRedisSentinels sentinels;
    private final List<Broker> brokers = new ArrayList<>();
    private final String stream = "orders-" + UUID.randomUUID();

    @BeforeAll
    static void sentinels(LocalRedisSentinels started) {
        sentinels = started;
    }

    @AfterEach
    void closeBrokers() {
        brokers.forEach(Broker::close);
        brokers.clear();
    }

    private Broker broker(String provider, Map<String, String> more) {
        Map<String, String> options = new HashMap<>(Map.of("uri", sentinels.uri()));
        options.putAll(more);
        Broker broker = (provider.equals(RedisBrokerProvider.NAME) ? new RedisBrokerProvider()
                : new RedisPubSubBrokerProvider()).create("sentinel", new BrokerSettings("sentinel", provider,
                options));
        brokers.add(broker);
        return broker;
    }

    private static RedisServer replica() {
        int master = sentinels.master().port();
        return sentinels.dataNodes().stream().filter(n -> n.port() != master).findFirst().orElseThrow();
    }

    @Test
    @Order(1)
    void the_broker_writes_to_the_master_the_sentinels_name_and_reports_healthy() {
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of());
        broker.publish(stream, Map.of("n", 1));
        assertEquals(1L, (Long) sentinels.master().command("XLEN", stream));
        HealthStats stats = broker.healthStats();
        assertEquals(HealthStats.Status.HEALTHY, stats.status(), stats.toString());
        assertEquals("master", stats.details().get("role"));
    }

    @Test
    @Order(2)
    void the_list_broker_reads_and_trims_any_list_on_sentinel() {
        Broker lists = broker(RedisPubSubBrokerProvider.NAME, Map.of("max-length", "10"));
        for (int i = 0; i < 30; i++) {
            lists.publish(stream, Map.of("n", i));
        }
        assertEquals(30, lists.read(stream, "mailer", 100).size());
        lists.publish(stream, Map.of("n", 30));
        assertEquals(1, lists.read(stream, "mailer", 100).size());
    }

    @Test
    @Order(3)
    void with_min_replicas_acked_a_publish_returns_once_the_replica_holds_it() {
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of("min-replicas-acked", "1"));
        broker.publish(stream, Map.of("n", 1));
        broker.publishAll(stream, List.of(Map.of("n", 2), Map.of("n", 3)));
        Broker lists = broker(RedisPubSubBrokerProvider.NAME, Map.of("min-replicas-acked", "1"));
        lists.publish(stream + "-list", Map.of("n", 4));
        assertEquals(3L, (Long) replica().command("XLEN", stream), "on the replica when publish returned");
        assertEquals(1L, (Long) replica().command("LLEN", stream + "-list"));
    }

    @Test
    @Order(4)
    void with_more_replicas_acked_than_answer_in_time_the_outcome_is_unknown_naming_stream_count_and_option() {
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of("min-replicas-acked", "2", "socket-timeout", "0.2"));
        PublishOutcomeUnknownException e = assertThrows(PublishOutcomeUnknownException.class,
                () -> broker.publish(stream, Map.of("n", 1)));
        assertTrue(e.getMessage().contains("stream '" + stream + "'") && e.getMessage().contains("only 1 of the 2")
                && e.getMessage().contains("min-replicas-acked"), e.getMessage());
        Broker lists = broker(RedisPubSubBrokerProvider.NAME, Map.of("min-replicas-acked", "2",
                "socket-timeout", "0.2"));
        assertThrows(PublishOutcomeUnknownException.class, () -> lists.publishAll(stream + "-list",
                List.of(Map.of("n", 1), Map.of("n", 2))));
        assertEquals(1L, (Long) sentinels.master().command("XLEN", stream), "stored on the master all the same");
    }

    @Test
    @Order(5)
    void the_uri_credentials_go_to_the_data_nodes_and_the_sentinel_ones_to_the_sentinels_never_into_a_message() {
        for (RedisServer node : sentinels.dataNodes()) {
            node.command("ACL", "SETUSER", "app", "on", ">app-pw", "~*", "&*", "+@all");
        }
        for (HostAndPort sentinel : sentinels.sentinels()) {
            try (Jedis j = new Jedis(sentinel.getHost(), sentinel.getPort())) {
                j.aclSetUser("watcher", "on", ">watch-pw", "+@all");
            }
        }
        String uri = sentinels.uri().replace("redis-sentinel://", "redis-sentinel://app:app-pw@");
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of("uri", uri, "sentinel-user", "watcher",
                "sentinel-password", "watch-pw"));
        broker.publish(stream, Map.of("n", 1));
        String clients = new String((byte[]) sentinels.master().command("CLIENT", "LIST"));
        assertTrue(hasClient(clients, "courier-sentinel", "app"), clients);
        try (Jedis j = new Jedis(sentinels.sentinels().get(0).getHost(), sentinels.sentinels().get(0).getPort())) {
            assertTrue(hasClient(j.clientList(), "courier-sentinel-sentinel", "watcher"), j.clientList());
        }
        Broker wrong = broker(RedisBrokerProvider.NAME, Map.of("uri", uri, "sentinel-user", "watcher",
                "sentinel-password", "wrong-pw", "failover-timeout", "0.3"));
        BrokerConnectionException e = assertThrows(BrokerConnectionException.class,
                () -> wrong.publish(stream, Map.of("n", 2)));
        System.out.println("sentinel: wrong sentinel password: " + e.getMessage());
        assertFalse(e.getMessage().contains("wrong-pw") || e.getMessage().contains("app-pw"), e.getMessage());
        assertTrue(e.getMessage().contains("sentinel-password"), e.getMessage());
    }

    @Test
    @Order(6)
    void a_master_name_the_sentinels_do_not_monitor_fails_at_once_naming_it() {
        Broker broker = broker(RedisBrokerProvider.NAME, Map.of("uri",
                sentinels.uri().replace("#" + LocalRedisSentinels.MASTER_NAME, "#no-such-master"),
                "failover-timeout", "60"));
        BrokerConnectionException e = assertThrows(BrokerConnectionException.class,
                () -> broker.publish(stream, Map.of("n", 1)));
        assertTrue(e.getMessage().contains("no-such-master seems to be not monitored"), e.getMessage());
    }

    /** Whether CLIENT LIST shows a connection of that name authenticated as that user. */
    private static boolean hasClient(String clientList, String name, String user) {
        return clientList.lines().anyMatch(l -> l.contains(" name=" + name + " ") && l.contains(" user=" + user + " "));
    }

    @Test
    @Order(100)
    void through_a_master_switch_a_publish_is_retried_a_blocked_read_resumes_and_health_reports_it_at_once()
            throws Exception {
        RedisServer master = sentinels.master();
        Broker impatient = broker(RedisBrokerProvider.NAME, Map.of("failover-timeout", "0.3"));
        Broker patient = broker(RedisBrokerProvider.NAME, Map.of());
        Broker reader = broker(RedisBrokerProvider.NAME, Map.of());
        impatient.healthStats(); // connected to the master; the first write checks its connection first
        patient.healthStats();
        Broker watched = broker(RedisBrokerProvider.NAME, Map.of("failover-timeout", "60"));
        assertEquals(HealthStats.Status.HEALTHY, watched.healthStats().status());
        FailoverCheck.killDuringABlockedRead("sentinel", master, stream, impatient, patient, reader, () -> {
            // Health answers at once, not after the failover: were it to wait, it would see the new master.
            HealthStats stats = watched.healthStats();
            assertEquals(HealthStats.Status.UNHEALTHY, stats.status(), stats.toString());
            assertFalse(stats.connected());
        });
        // The client follows the first Sentinel that announces the switch; the one asked here may learn it later.
        await("the Sentinels name another master").atMost(Duration.ofSeconds(10)).ignoreExceptions()
                .until(() -> sentinels.master().port() != master.port());
        // The killed master stays down: this test runs last, and a restart would only add the wait for it.
    }
}
