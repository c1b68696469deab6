package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerConnectionException;
import dev.courier.BrokerException;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.PublishOutcomeUnknownException;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Redis goes away and comes back, with its append-only file: nothing acknowledged comes back, nothing is lost. */
@WithRedis(controllable = true, args = {"--appendonly", "yes", "--appendfsync", "always"})
class RedisRestartTest {

    private static final RetryPolicy POLICY =
            new RetryPolicy(3, Duration.ofMillis(100), 2.0, Duration.ofSeconds(1), true);

    private static Broker broker(RedisServer redis, String consumer) {
        return new RedisBrokerProvider().create("restart", RedisBrokerContractTest.settings(redis.uri(), POLICY,
                Map.of("consumer-name", consumer, "connect-timeout", "0.5", "socket-timeout", "1")));
    }

    @Test
    void a_restart_loses_nothing_and_redelivers_nothing_acknowledged(RedisServer redis) {
        String stream = "restart-" + System.nanoTime();
        try (Broker broker = broker(redis, "instance-1")) {
            List<Map<String, Object>> batch = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                batch.add(Map.of("n", i));
            }
            Set<String> published = new HashSet<>(broker.publishAll(stream, batch));
            List<Message> read = broker.read(stream, "g", 500);
            Set<String> acked = new HashSet<>();
            for (Message m : read.subList(0, 300)) {
                assertTrue(broker.ack(stream, m.id(), "g"));
                acked.add(m.id());
            }
            Set<String> heldUnacked = new HashSet<>();
            read.subList(300, 500).forEach(m -> heldUnacked.add(m.id()));

            redis.stop();
            long down = System.nanoTime();
            // Redis closed the pooled connections: a publish written on one before that is found out has an
            // unknown outcome (the client cannot tell whether Redis read it before it went); the pool is then
            // dropped, and the next publish finds no server: not sent.
            BrokerException first = assertThrows(BrokerException.class,
                    () -> broker.publish(stream, Map.of("during", "outage")));
            assertTrue(first instanceof PublishOutcomeUnknownException || first instanceof BrokerConnectionException,
                    first::toString);
            BrokerConnectionException e = assertThrows(BrokerConnectionException.class,
                    () -> broker.publish(stream, Map.of("during", "outage")));
            assertThrows(BrokerConnectionException.class, () -> broker.read(stream, "g", 10));
            assertFalse(broker.ping());
            assertEquals(HealthStats.Status.UNHEALTHY, broker.healthStats().status());
            System.out.println("publish during the outage: " + e.getMessage());

            redis.start();
            long up = System.nanoTime();
            // The same broker object carries on: its pooled connections are dead and replaced.
            String after = broker.publish(stream, Map.of("after", "restart"));
            published.add(after);
            long recoveredMs = (System.nanoTime() - up) / 1_000_000;
            assertTrue(broker.ping());
            assertEquals(HealthStats.Status.HEALTHY, broker.healthStats().status());

            List<Message> delivered = new ArrayList<>();
            Set<String> expected = new HashSet<>(published);
            expected.removeAll(acked);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20)).until(() -> {
                for (Message m : broker.read(stream, "g", 200)) {
                    delivered.add(m);
                    broker.ack(stream, m.id(), "g");
                }
                return delivered.stream().map(Message::id).toList().containsAll(expected);
            });
            Set<String> deliveredIds = new HashSet<>();
            delivered.forEach(m -> deliveredIds.add(m.id()));
            long redeliveredAcked = delivered.stream().filter(m -> acked.contains(m.id())).count();
            long lost = expected.stream().filter(id -> !deliveredIds.contains(id)).count();
            long reclaimed = delivered.stream().filter(m -> heldUnacked.contains(m.id()) && m.deliveryCount() == 2)
                    .count();
            System.out.printf("restart: messages=%d, acknowledged before=%d, held unacknowledged=%d, "
                            + "delivered after=%d (of which %d redelivered with delivery count 2), lost=%d, "
                            + "acknowledged redelivered=%d, outage=%d ms, first publish after start took %d ms%n",
                    published.size(), acked.size(), heldUnacked.size(), delivered.size(), reclaimed, lost,
                    redeliveredAcked, (up - down) / 1_000_000, recoveredMs);
            assertEquals(0, lost);
            assertEquals(0, redeliveredAcked);
            assertEquals(heldUnacked.size(), reclaimed, "the PEL and its delivery counts survived the restart");
        }
    }

    /**
     * A frozen Redis (SIGSTOP) keeps its connections open and answers nothing. What was written on a connection is
     * reported as outcome unknown, is not sent again, and is stored once when Redis resumes; what could not get a
     * connection is reported as not sent, and is not stored.
     */
    /**
     * Redis closes the pooled connections when it stops; a publisher that was quiet meanwhile finds that out before it
     * writes (a PING on a connection idle for a second), so nothing is reported "outcome unknown" that never reached
     * Redis: after a restart the publish is stored, while Redis is down it is not sent.
     */
    @Test
    void a_quiet_publisher_never_writes_on_a_connection_redis_closed(RedisServer redis) throws InterruptedException {
        String stream = "quiet-" + System.nanoTime();
        try (Broker broker = broker(redis, "instance-3")) {
            String first = broker.publish(stream, Map.of("n", 1)); // leaves a connection in the pool
            redis.stop();
            redis.start();
            // What is under test is a quiet spell itself: time passing with no publish, not a condition to await.
            Thread.sleep(1_100);
            String second = broker.publish(stream, Map.of("n", 2));
            List<?> entries = (List<?>) redis.command("XRANGE", stream, "-", "+");
            assertEquals(List.of(first, second), entries.stream()
                    .map(entry -> new String((byte[]) ((List<?>) entry).get(0), StandardCharsets.UTF_8)).toList());

            redis.stop();
            // Again a quiet spell, now with Redis down: the stale connection is found out before anything is written.
            Thread.sleep(1_100);
            assertThrows(BrokerConnectionException.class, () -> broker.publish(stream, Map.of("n", 3)),
                    "Redis is down: not sent");
        } finally {
            redis.start();
        }
    }

    @Test
    void a_publish_to_a_frozen_redis_has_an_unknown_outcome_and_is_stored_once_when_it_resumes(RedisServer redis) {
        String stream = "pause-" + System.nanoTime();
        try (Broker single = broker(redis, "instance-1");
             Broker batch = broker(redis, "instance-2");
             Broker cold = broker(redis, "instance-3")) {
            single.publish(stream, Map.of("n", 1)); // both have a pooled connection, cold has none
            batch.publish(stream, Map.of("n", 2));
            redis.pause();
            PublishOutcomeUnknownException unknown;
            PublishOutcomeUnknownException unknownBatch;
            BrokerConnectionException notSent;
            long start = System.nanoTime();
            try {
                // At once, both within a second of their last write: a publisher quiet for longer checks its
                // connection before writing, and finds that nothing was sent (see the test above).
                CompletableFuture<?> singleCall = CompletableFuture.runAsync(
                        () -> single.publish(stream, Map.of("n", 3)));
                CompletableFuture<?> batchCall = CompletableFuture.runAsync(
                        () -> batch.publishAll(stream, List.of(Map.of("n", 4), Map.of("n", 5))));
                unknown = failure(singleCall, PublishOutcomeUnknownException.class);
                unknownBatch = failure(batchCall, PublishOutcomeUnknownException.class);
                notSent = assertThrows(BrokerConnectionException.class, () -> cold.publish(stream, Map.of("n", 6)));
            } finally {
                redis.resume();
            }
            long ms = (System.nanoTime() - start) / 1_000_000;
            System.out.println("frozen Redis (socket-timeout 1 s), " + ms + " ms for three publishes:\n  "
                    + unknown.getMessage() + "\n  " + unknownBatch.getMessage() + "\n  " + notSent.getMessage());
            assertFalse(BrokerConnectionException.class.isInstance(unknown), "not a 'not sent, retry' exception");
            assertTrue(unknown.getMessage().contains("unknown"), unknown.getMessage());

            // Redis runs what it was sent while frozen: each once, as nothing was sent again; n=6 was never sent.
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                    .until(() -> (Long) redis.command("XLEN", stream) >= 5);
            List<Integer> ns = single.read(stream, "g", 100).stream()
                    .map(m -> ((Number) m.payload().get("n")).intValue()).sorted().toList();
            assertEquals(List.of(1, 2, 3, 4, 5), ns);
            single.publish(stream, Map.of("n", 7)); // and the broker goes on
        }
    }

    private static <E extends Throwable> E failure(CompletableFuture<?> call, Class<E> type) {
        CompletionException e = assertThrows(CompletionException.class, call::join);
        return assertInstanceOf(type, e.getCause());
    }

    @Test
    void what_an_outage_interrupted_is_delivered_again_at_once_not_after_the_message_timeout(RedisServer redis) {
        String stream = "interrupted-" + System.nanoTime();
        RetryPolicy longTimeout = new RetryPolicy(3, Duration.ofMillis(100), 2.0, Duration.ofSeconds(300), true);
        try (Broker broker = new RedisBrokerProvider().create("restart", RedisBrokerContractTest.settings(
                redis.uri(), longTimeout, Map.of("consumer-name", "instance-3", "connect-timeout", "0.5")))) {
            List<String> ids = broker.publishAll(stream, List.of(Map.of("n", 1), Map.of("n", 2), Map.of("n", 3)));
            List<Message> batch = broker.read(stream, "g", 10);
            assertEquals(ids, batch.stream().map(Message::id).toList());
            assertTrue(broker.ack(stream, ids.get(0), "g"));
            redis.stop();
            try {
                // The second was handled, but its ack is lost to the outage; the third was never handled.
                assertThrows(BrokerConnectionException.class, () -> broker.ack(stream, ids.get(1), "g"));
            } finally {
                redis.start();
            }
            // message-timeout is 300 s: only the outage, not a timeout, brings them back.
            List<Message> again = broker.read(stream, "g", 10);
            assertEquals(ids.subList(1, 3), again.stream().map(Message::id).toList());
            assertEquals(List.of(2, 2), again.stream().map(Message::deliveryCount).toList());
            again.forEach(m -> assertTrue(broker.ack(stream, m.id(), "g")));
            assertTrue(broker.read(stream, "g", 10).isEmpty());
        }
    }
}
