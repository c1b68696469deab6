package dev.courier.it;

import dev.courier.Broker;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XPendingParams;
import redis.clients.jedis.resps.StreamEntry;
import redis.clients.jedis.resps.StreamGroupInfo;
import redis.clients.jedis.resps.StreamPendingEntry;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The demo on a {@code redis} default broker (a redis-server this test starts, with an append-only file), configured
 * as users do it, through environment variables: readiness follows Redis down and up without losing a message, and a
 * server stopped in the middle of 1,000 messages handles every one after it is started again.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(Servers.class)
@WithRedis(controllable = true, args = {"--appendonly", "yes"})
abstract class RedisDemoIT {

    static final String STREAM = "orders";
    static final String GROUP = "dev.courier.demo.OrderSubscriber";

    private final HttpClient http = AppServer.httpClient();
    protected AppServer server;
    private RedisServer redis;
    private RedisClient jedis;
    private Broker publisher;

    protected abstract Servers.Kind kind();

    @BeforeAll
    void startOnRedis(RedisServer redisServer) {
        redis = redisServer;
        jedis = RedisClient.create(URI.create(redis.uri()));
        publisher = new RedisBrokerProvider().create("publisher",
                new BrokerSettings("publisher", "redis", Map.of("uri", redis.uri())));
        server = Servers.acquire(kind(), Map.of(
                "BROKERS_DEFAULT_PROVIDER", "redis",
                "BROKERS_DEFAULT_URI", redis.uri(),
                // A stable consumer name, as a StatefulSet would give: a restarted instance takes back at once
                // what it had read but not acknowledged.
                "COURIER_CONSUMER_NAME", "it-" + kind().name().toLowerCase()));
    }

    @AfterAll
    void close() {
        assertTrue(server.isRunning(), () -> server.name() + " died during the tests:\n" + server.tail());
        publisher.close();
        jedis.close();
    }

    @Test
    void readiness_goes_down_with_redis_and_up_again_and_nothing_is_lost() {
        awaitStatus("health/ready", 200);
        String run = UUID.randomUUID().toString();
        Set<String> before = publish(run, 100, 0);
        redis.stop();
        try {
            awaitStatus("health/ready", 503);
            String body = get("health/ready").body();
            assertTrue(body.contains("\"default.status\":\"unhealthy\""), body);
            assertTrue(body.contains("DOWN"), body);
            assertEquals(200, get("health/live").statusCode(), "a broker outage does not make the server dead");
        } finally {
            redis.start();
        }
        awaitStatus("health/ready", 200);
        // The test's own publisher still holds connections the stopped Redis closed: a publish written on one would
        // have an unknown outcome (README, When a publish fails). A ping finds them dead and drops them, as the
        // server's readiness checks did for its broker.
        await().atMost(Duration.ofSeconds(10)).until(publisher::ping);
        Set<String> after = publish(run, 100, 100);
        Set<String> all = new HashSet<>(before);
        all.addAll(after);
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250))
                .until(() -> handledOrders(run).containsAll(all));
        System.out.printf("[courier-it] %s on redis: readiness DOWN with Redis stopped, UP after; %d of %d orders "
                + "handled%n", server.name(), handledOrders(run).size(), all.size());
    }

    @Test
    void a_server_stopped_while_consuming_handles_every_message_after_it_starts_again() {
        String run = UUID.randomUUID().toString();
        long startOffset = jedis.xlen(STREAM);
        Set<String> published = publish(run, 1_000, 0, Map.of("work_ms", 5));
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                .until(() -> handledOrders(run).size() >= 100);

        server.stop();
        // What Redis knows with the server down: entries read by the group, and those not acknowledged.
        StreamGroupInfo group = group();
        List<StreamPendingEntry> pending = jedis.xpending(STREAM, GROUP,
                XPendingParams.xPendingParams().count(10_000));
        Set<String> pendingIds = pending.stream().map(p -> p.getID().toString()).collect(Collectors.toSet());
        Set<String> ackedBeforeStop = new HashSet<>();
        for (StreamEntry entry : jedis.xrange(STREAM, (StreamEntryID) null, group.getLastDeliveredId())) {
            Object order = entry.getFields().get("data");
            if (!pendingIds.contains(entry.getID().toString()) && order.toString().contains(run)) {
                ackedBeforeStop.add(orderId(order.toString()));
            }
        }
        long unread = published.size() - ackedBeforeStop.size() - pendingIds.size();

        server.start();
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250)).until(() -> {
            Set<String> handled = new HashSet<>(ackedBeforeStop);
            handled.addAll(handledOrders(run));
            return handled.containsAll(published);
        });
        Set<String> handledAfter = handledOrders(run);
        Set<String> all = new HashSet<>(ackedBeforeStop);
        all.addAll(handledAfter);
        Set<String> lost = new HashSet<>(published);
        lost.removeAll(all);
        long twice = handledAfter.stream().filter(ackedBeforeStop::contains).count();
        System.out.printf("[courier-it] %s stopped while consuming on redis: published=%d, acknowledged before the "
                        + "stop=%d, pending at the stop=%d, unread at the stop=%d, handled after the start=%d, "
                        + "handled twice=%d, lost=%d%n", server.name(), published.size(), ackedBeforeStop.size(),
                pendingIds.size(), unread, handledAfter.size(), twice, lost.size());
        assertEquals(Set.of(), lost);
        assertTrue(ackedBeforeStop.size() >= 100, "stopped in the middle");
        assertTrue(ackedBeforeStop.size() < published.size(), "stopped before the end");
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
                .until(() -> jedis.xpending(STREAM, GROUP).getTotal() == 0);
        assertEquals(0, jedis.xlen(STREAM + ":dlq"));
        assertTrue(jedis.xlen(STREAM) >= startOffset + published.size());
    }

    private Set<String> publish(String run, int count, int from) {
        return publish(run, count, from, Map.of());
    }

    /** Publishes orders {@code run-from ... run-(from+count-1)}; returns their order ids. */
    private Set<String> publish(String run, int count, int from, Map<String, Object> extra) {
        List<Map<String, Object>> orders = IntStream.range(from, from + count).mapToObj(n -> {
            Map<String, Object> order = new java.util.HashMap<>(extra);
            order.put("event_type", "order.placed");
            order.put("order_id", run + "-" + n);
            return order;
        }).toList();
        for (int i = 0; i < orders.size(); i += 100) {
            publisher.publishAll(STREAM, orders.subList(i, Math.min(orders.size(), i + 100)));
        }
        return orders.stream().map(o -> (String) o.get("order_id")).collect(Collectors.toSet());
    }

    /** The ids of this run's orders the server's subscriber has handled since it started. */
    private Set<String> handledOrders(String run) {
        String body = get("api/received").body();
        Set<String> ids = new HashSet<>();
        for (Object entry : (List<?>) DemoJson.parse(body)) {
            Map<?, ?> e = (Map<?, ?>) entry;
            if (Boolean.TRUE.equals(e.get("handled")) && e.get("payload") instanceof Map<?, ?> payload
                    && payload.get("order_id") instanceof String id && id.startsWith(run)) {
                ids.add(id);
            }
        }
        return ids;
    }

    private static String orderId(String json) {
        return (String) ((Map<?, ?>) DemoJson.parse(json)).get("order_id");
    }

    private StreamGroupInfo group() {
        return jedis.xinfoGroups(STREAM).stream().filter(g -> g.getName().equals(GROUP)).findFirst()
                .orElseThrow(() -> new AssertionError("no group " + GROUP + " on " + STREAM));
    }

    private void awaitStatus(String path, int status) {
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
                .until(() -> get(path).statusCode() == status);
    }

    private HttpResponse<String> get(String path) {
        try {
            return http.send(HttpRequest.newBuilder(server.baseUri().resolve(path)).timeout(Duration.ofSeconds(10))
                    .GET().build(), HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
