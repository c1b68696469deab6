package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerConnectionException;
import dev.courier.Brokers;
import dev.courier.Message;
import dev.courier.engine.EngineMode;
import dev.courier.engine.LoopStatus;
import dev.courier.internal.engine.CircuitBreakerSettings;
import dev.courier.internal.engine.Concurrency;
import dev.courier.internal.engine.CourierEngine;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.internal.engine.Subscription;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Under a backlog a group's next XREADGROUP goes out before the loop handles the last batch (ReadAhead), on real
 * Redis: what it reads comes next and in order, the backlog's end goes back to plain reads, and neither a stop nor
 * a connection broken with commands in flight loses a message.
 */
@WithRedis(controllable = true) // paused with SIGSTOP
class RedisReadAheadTest {

    private static final RetryPolicy POLICY = new RetryPolicy(3, Duration.ofMillis(100), 2.0, Duration.ofMinutes(10),
            true);
    private static final Duration BLOCK = Duration.ofMillis(100);
    /** No retries, a message-timeout of 10 s: a message delivered twice is dead-lettered. */
    private static final RetryPolicy NO_RETRIES = new RetryPolicy(0, Duration.ofMillis(100), 2.0,
            Duration.ofSeconds(10), true);

    @Test
    void a_full_batch_sends_the_next_read_whose_messages_come_next_in_order(RedisServer redis) {
        readsABacklogAhead(redis.uri(), "ahead-" + System.nanoTime(), stream -> pendingOf(redis, stream));
    }

    /**
     * 25 messages read 10 at a time, reading ahead: the full first batch sends the next read, whose messages come
     * next, in order; the short third batch ends it, and the reads after go back to blocking.
     */
    static void readsABacklogAhead(String uri, String stream, java.util.function.ToLongFunction<String> pending) {
        try (RedisBroker broker = (RedisBroker) new RedisBrokerProvider().create("ahead", RedisBrokerContractTest
                .settings(uri, POLICY, Map.of("consumer-name", "ahead")))) {
            List<String> published = publish(broker, stream, 25);
            List<Message> first = firstTenReadingAhead(broker, stream);
            assertEquals(published.subList(0, 10), ids(first));
            assertEquals(20L, pending.applyAsLong(stream), "the next 10 were read ahead with the full batch");

            List<Message> second = broker.read(stream, "g", 10, BLOCK, ids(first));
            assertEquals(published.subList(10, 20), ids(second));
            assertEquals(1, second.get(0).deliveryCount());
            // The first batch's XACK went ahead with the read of the last 5, which came back short.
            await().atMost(Duration.ofSeconds(10)).until(() -> pending.applyAsLong(stream) == 15L);

            List<Message> third = broker.read(stream, "g", 10, BLOCK, ids(second));
            assertEquals(published.subList(20, 25), ids(third));
            assertEquals(5L, pending.applyAsLong(stream), "a short batch ends the read ahead; its acks went alone");

            assertEquals(List.of(), broker.read(stream, "g", 10, BLOCK, ids(third)));
            assertEquals(0L, pending.applyAsLong(stream));
        }
    }

    @Test
    void without_the_loops_leave_nothing_is_read_ahead(RedisServer redis) {
        String stream = "no-ahead-" + System.nanoTime();
        try (RedisBroker broker = broker(redis, "plain")) {
            publish(broker, stream, 25);
            assertEquals(10, broker.read(stream, "g", 10, BLOCK, List.of()).size());
            assertEquals(10L, pendingOf(redis, stream));
        }
    }

    @Test
    void what_was_read_ahead_at_the_stop_stays_pending_and_comes_with_the_next_read(RedisServer redis) {
        String stream = "ahead-stop-" + System.nanoTime();
        try (RedisBroker broker = broker(redis, "stopping")) {
            List<String> published = publish(broker, stream, 30);
            List<Message> first = firstTenReadingAhead(broker, stream);
            broker.ackAll(stream, ids(first), "g");
            broker.releaseLoop(stream, "g", this); // the loop's stop, its batch handled and acknowledged
            assertEquals(10L, pendingOf(redis, stream), "what was read ahead stays pending");

            List<Message> next = broker.read(stream, "g", 10, BLOCK, List.of());
            assertEquals(published.subList(10, 20), ids(next), "delivered again at once, in order");
            assertEquals(2, next.get(0).deliveryCount());
        }
    }

    /**
     * A loop whose window fills says it has no room beside its next read: what is in flight is handed out by that
     * read as it was read (not delivered again), and nothing more goes ahead until the loop has room again.
     */
    @Test
    void no_room_beside_the_next_read_sends_nothing_more_ahead_and_hands_out_what_is_in_flight(RedisServer redis) {
        String stream = "ahead-full-" + System.nanoTime();
        try (RedisBroker broker = broker(redis, "full")) {
            List<String> published = publish(broker, stream, 40);
            List<Message> first = firstTenReadingAhead(broker, stream);
            assertEquals(20L, pendingOf(redis, stream), "the next 10 were read ahead");

            broker.readAhead(stream, "g", 0);
            List<Message> second = broker.read(stream, "g", 10, BLOCK, ids(first));
            assertEquals(published.subList(10, 20), ids(second));
            assertEquals(1, second.get(0).deliveryCount(), "handed out as read, not delivered again");
            // The first batch's XACK went alone, and no read went ahead with it.
            await().atMost(Duration.ofSeconds(10)).until(() -> pendingOf(redis, stream) == 10L);

            broker.readAhead(stream, "g", 10); // room again
            List<Message> third = broker.read(stream, "g", 10, BLOCK, ids(second));
            assertEquals(published.subList(20, 30), ids(third));
            assertEquals(20L, pendingOf(redis, stream), "the last 10 read ahead again");
            assertEquals(published.subList(30, 40), ids(broker.read(stream, "g", 10, BLOCK, ids(third))));
        }
    }

    /**
     * A first batch whose handlers take 1.5 s, with no retries allowed: the batch read ahead behind it waited well
     * inside half the message-timeout (5 s), so it is handed out as it was read, not delivered again, which would
     * count as a retry and, with max-retries 0, dead-letter it unhandled.
     */
    @Test
    void a_batch_read_ahead_behind_a_slow_one_is_handed_out_as_read_not_counted_as_a_retry(RedisServer redis) {
        String stream = "ahead-slow-" + System.nanoTime();
        try (RedisBroker broker = broker(redis, "slow", NO_RETRIES)) {
            List<String> published = publish(broker, stream, 20);
            List<Message> first = firstTenReadingAhead(broker, stream);
            await().atMost(Duration.ofSeconds(10)).until(() -> pendingOf(redis, stream) == 20L);
            // The first batch's handlers at work until what went ahead has waited 1.5 s, by Redis's own count.
            await().atMost(Duration.ofSeconds(10)).until(() -> idleOfNewest(redis, stream) >= 1_500);

            List<Message> second = broker.read(stream, "g", 10, BLOCK, ids(first));
            assertEquals(published.subList(10, 20), ids(second));
            assertEquals(1, second.get(0).deliveryCount(), "handed out as read: not a retry");
            assertEquals(0, broker.deadLetterDepth(stream));
        }
    }

    /**
     * A loop whose window has less room than was read ahead (or a circuit breaker's probe of one) asks for fewer:
     * the rest are handed out by its next reads as they were read, none delivered again, which would count as a
     * retry (with max-retries 0, a dead letter never handled).
     */
    @Test
    void what_was_read_ahead_beyond_a_smaller_read_comes_with_the_next_reads_as_read(RedisServer redis) {
        String stream = "ahead-fewer-" + System.nanoTime();
        try (RedisBroker broker = broker(redis, "fewer", NO_RETRIES)) {
            List<String> published = publish(broker, stream, 20);
            List<Message> first = firstTenReadingAhead(broker, stream);
            await().atMost(Duration.ofSeconds(10)).until(() -> pendingOf(redis, stream) == 20L);

            List<Message> got = new ArrayList<>();
            List<String> acks = ids(first);
            for (int size : new int[] {4, 1, 4, 4}) {
                List<Message> batch = broker.read(stream, "g", size, BLOCK, acks);
                assertTrue(batch.size() <= size, "asked for " + size + ", got " + batch.size());
                got.addAll(batch);
                acks = ids(batch);
            }
            assertEquals(published.subList(10, 20), ids(got), "in order, each once");
            assertTrue(got.stream().allMatch(m -> m.deliveryCount() == 1), "handed out as read, not a retry");
            broker.ackAll(stream, acks, "g");
            assertEquals(0L, pendingOf(redis, stream));
            assertEquals(0, broker.deadLetterDepth(stream));
        }
    }

    /**
     * A loop held up past half the message-timeout (here 0.5 s of 1 s): the batch read ahead is not handed out as it
     * was read, but claimed again by the left-over scan (XCLAIM's min-idle would leave it to a consumer that claimed
     * it meanwhile), and comes in order.
     */
    @Test
    void a_batch_read_ahead_that_waited_too_long_is_claimed_again_before_it_is_handed_out(RedisServer redis) {
        String stream = "ahead-stale-" + System.nanoTime();
        RetryPolicy shortTimeout = new RetryPolicy(3, Duration.ofMillis(100), 2.0, Duration.ofSeconds(1), true);
        try (RedisBroker broker = broker(redis, "stale", shortTimeout)) {
            List<String> published = publish(broker, stream, 30);
            List<Message> first = firstTenReadingAhead(broker, stream);
            assertEquals(20L, pendingOf(redis, stream));
            await().atMost(Duration.ofSeconds(10)).until(() -> idleOfNewest(redis, stream) > 600);

            List<Message> second = broker.read(stream, "g", 10, BLOCK, ids(first));
            assertEquals(published.subList(10, 20), ids(second));
            assertEquals(2, second.get(0).deliveryCount(), "claimed again, not handed out as read");
            assertEquals(10L, pendingOf(redis, stream), "the first batch acknowledged, nothing read ahead now");
        }
    }

    /**
     * Redis holds the XACK and the XREADGROUP sent ahead (CLIENT PAUSE WRITE) while the connection is killed: neither
     * runs. The read that finds the connection broken fails, and the next one delivers again what this consumer
     * holds: the batch whose ack was lost and the one handed out since, then the rest. Nothing is lost.
     */
    @Test
    void a_connection_broken_with_the_acks_and_read_in_flight_loses_nothing(RedisServer redis) {
        String stream = "ahead-broken-" + System.nanoTime();
        try (RedisBroker broker = broker(redis, "broken")) {
            List<String> published = publish(broker, stream, 30);
            List<Message> first = firstTenReadingAhead(broker, stream);
            redis.command("CLIENT", "PAUSE", "10000", "WRITE");
            List<Message> second;
            try {
                second = broker.read(stream, "g", 10, BLOCK, ids(first)); // sends XACK(first) + XREADGROUP ahead
                assertEquals(published.subList(10, 20), ids(second));
                redis.command("CLIENT", "KILL", "ID", readingClientId(redis));
            } finally {
                redis.command("CLIENT", "UNPAUSE");
            }
            assertThrows(BrokerConnectionException.class, () -> broker.read(stream, "g", 10, BLOCK, ids(second)),
                    "the replies in flight are lost with the connection");

            Map<String, Integer> deliveries = new HashMap<>();
            first.forEach(m -> deliveries.merge(m.id(), 1, Integer::sum));
            second.forEach(m -> deliveries.merge(m.id(), 1, Integer::sum));
            List<String> acks = List.of();
            for (int reads = 0; reads < 10; reads++) {
                List<Message> batch = broker.read(stream, "g", 10, BLOCK, acks);
                batch.forEach(m -> deliveries.merge(m.id(), 1, Integer::sum));
                acks = ids(batch);
            }
            assertEquals(Set.copyOf(published), deliveries.keySet(), "every message delivered");
            for (String id : published.subList(0, 20)) {
                assertEquals(2, deliveries.get(id), id + ": its ack was lost, so it came again, once");
            }
            for (String id : published.subList(20, 30)) {
                assertEquals(1, deliveries.get(id), id);
            }
            assertEquals(0L, pendingOf(redis, stream));
        }
    }

    /**
     * Redis is frozen (SIGSTOP) with the XACK and the XREADGROUP sent ahead, past the client's socket timeout, then
     * serves both into the connection the client gave up on: the next read delivers again what this consumer holds,
     * the batch served into the lost reply and the one whose ack went with the failed read. Nothing is lost.
     */
    @Test
    void a_read_ahead_whose_reply_was_lost_comes_with_the_next_read(RedisServer redis) {
        String stream = "ahead-lost-" + System.nanoTime();
        try (RedisBroker broker = broker(redis, "lost", Map.of("socket-timeout", "0.3", "block-timeout", "0.2"))) {
            List<String> published = publish(broker, stream, 30);
            List<Message> first = firstTenReadingAhead(broker, stream);
            await().atMost(Duration.ofSeconds(10)).until(() -> pendingOf(redis, stream) == 20L);
            List<Message> second;
            redis.pause();
            try {
                second = broker.read(stream, "g", 10, BLOCK, ids(first)); // its reply was in; sends XACK + XREADGROUP
                assertEquals(published.subList(10, 20), ids(second));
                assertThrows(BrokerConnectionException.class, () -> broker.read(stream, "g", 10, BLOCK,
                        ids(second)), "no reply within the socket timeout");
            } finally {
                redis.resume();
            }
            // Served once Redis runs again: the first batch acknowledged, the third delivered to the lost connection.
            await().atMost(Duration.ofSeconds(10)).until(() -> pendingOf(redis, stream) == 20L);

            Map<String, Integer> deliveries = new HashMap<>();
            first.forEach(m -> deliveries.merge(m.id(), 1, Integer::sum));
            second.forEach(m -> deliveries.merge(m.id(), 1, Integer::sum));
            List<String> acks = List.of();
            for (int reads = 0; reads < 10; reads++) {
                List<Message> batch = broker.read(stream, "g", 10, BLOCK, acks);
                batch.forEach(m -> deliveries.merge(m.id(), 1, Integer::sum));
                acks = ids(batch);
            }
            assertEquals(Set.copyOf(published), deliveries.keySet(), "every message delivered");
            for (int i = 0; i < 30; i++) {
                assertEquals(i >= 10 && i < 20 ? 2 : 1, deliveries.get(published.get(i)), "message " + i);
            }
            assertEquals(0L, pendingOf(redis, stream));
        }
    }

    /**
     * An engine whose loop reads ahead is stopped while it handles a batch: the rest of that batch and the batch read
     * ahead stay pending, and an engine of the same consumer started after it handles them. Nothing is lost.
     */
    @Test
    void a_stop_with_a_read_ahead_in_flight_loses_nothing(RedisServer redis) throws Exception {
        String stream = "ahead-engine-" + System.nanoTime();
        Set<String> handled = ConcurrentHashMap.newKeySet();
        CountDownLatch inHand = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<String> published;
        try (RedisBroker broker = broker(redis, "engine")) {
            published = publish(broker, stream, 50);
            CourierEngine engine = engine(broker, stream, message -> {
                if (handled.size() == 14) { // the 15th message, in the second batch of 10
                    inHand.countDown();
                    release.await(30, TimeUnit.SECONDS);
                }
                handled.add(message.id());
            });
            engine.start();
            assertTrue(inHand.await(30, TimeUnit.SECONDS));
            Thread stopping = new Thread(engine::stop);
            stopping.start();
            await().atMost(Duration.ofSeconds(10)).until(() -> engine.status().loops().get(0).state()
                    != LoopStatus.State.RUNNING || !engine.status().started());
            release.countDown();
            stopping.join(30_000);
            assertEquals(15, handled.size());
            // The 5 left of the second batch, and the third batch, read ahead while the second was handled.
            assertEquals(15L, pendingOf(redis, stream));
        }
        try (RedisBroker again = broker(redis, "engine")) {
            CourierEngine engine = engine(again, stream, message -> handled.add(message.id()));
            engine.start();
            try {
                await().atMost(Duration.ofSeconds(30)).until(() -> handled.size() == 50
                        && pendingOf(redis, stream) == 0L);
            } finally {
                engine.stop();
            }
        }
        assertEquals(Set.copyOf(published), handled);
    }

    interface Handler {
        void handle(Message message) throws Exception;
    }

    private static CourierEngine engine(Broker broker, String stream, Handler handler) {
        EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, 10, BLOCK, Duration.ofSeconds(10),
                "engine");
        return CourierEngine.create(settings, new Brokers(Map.of("default", broker)), List.of(new Subscription(
                "default", stream, "g", "", Message.class, "RedisReadAheadTest.handle(Message)",
                argument -> handler.handle((Message) argument), CircuitBreakerSettings.OFF,
                Concurrency.SEQUENTIAL)));
    }

    private static RedisBroker broker(RedisServer redis, String consumer) {
        return broker(redis, consumer, Map.of());
    }

    private static RedisBroker broker(RedisServer redis, String consumer, Map<String, String> options) {
        return broker(redis, consumer, POLICY, options);
    }

    private static RedisBroker broker(RedisServer redis, String consumer, RetryPolicy policy) {
        return broker(redis, consumer, policy, Map.of());
    }

    private static RedisBroker broker(RedisServer redis, String consumer, RetryPolicy policy,
                                      Map<String, String> options) {
        Map<String, String> all = new HashMap<>(options);
        all.put("consumer-name", consumer);
        return (RedisBroker) new RedisBrokerProvider().create(consumer, RedisBrokerContractTest.settings(
                redis.uri(), policy, all));
    }

    private static List<String> publish(Broker broker, String stream, int n) {
        List<Map<String, Object>> messages = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            messages.add(Map.of("n", i));
        }
        return broker.publishAll(stream, messages);
    }

    /** The group's first read of 10, with the next 10 allowed to go ahead of it. */
    private static List<Message> firstTenReadingAhead(RedisBroker broker, String stream) {
        broker.readAhead(stream, "g", 10);
        return broker.read(stream, "g", 10, BLOCK, List.of());
    }

    private static List<String> ids(List<Message> messages) {
        return messages.stream().map(Message::id).toList();
    }

    private static long pendingOf(RedisServer redis, String stream) {
        return (Long) ((List<?>) redis.command("XPENDING", stream, "g")).get(0);
    }

    /** How long (ms) the newest pending entry of the group has been idle. */
    private static long idleOfNewest(RedisServer redis, String stream) {
        List<?> entries = (List<?>) redis.command("XPENDING", stream, "g", "-", "+", "100");
        return (Long) ((List<?>) entries.get(entries.size() - 1)).get(2);
    }

    /** The id of the broker's connection of the readers' pool (its settings name it "contract"). */
    private static String readingClientId(RedisServer redis) {
        String list = new String((byte[]) redis.command("CLIENT", "LIST"), StandardCharsets.UTF_8);
        List<String> ids = list.lines().filter(l -> l.contains(" name=courier-contract-blocking "))
                .map(l -> l.substring(3, l.indexOf(' '))).toList();
        assertEquals(1, ids.size(), list);
        return ids.get(0);
    }
}
