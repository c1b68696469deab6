package dev.courier;

import dev.courier.spi.RetryPolicy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What every broker of at least the RELIABLE_MESSAGING tier with a dead-letter queue promises, and what the further
 * capabilities it declares promise (ordering, blocking reads, replay). Each provider runs it through a subclass.
 */
public abstract class BrokerContractTest {

    /** Short delays, so that brokers on a real clock are tested quickly. */
    protected static final RetryPolicy POLICY =
            new RetryPolicy(2, Duration.ofMillis(200), 2.0, Duration.ofSeconds(30), true);

    private final List<Broker> brokers = new ArrayList<>();
    protected String stream;

    /** A new broker object of the provider under test, with the given policy. */
    protected abstract Broker newBroker(RetryPolicy policy);

    /** The broker's clock. */
    protected Instant now() {
        return Instant.now();
    }

    /** Lets broker time pass while a test polls; brokers on a real clock need nothing. */
    protected void tick(Duration step) {
    }

    /**
     * Lets {@code duration} of broker time pass where waiting out a delay is what is tested (nothing can be awaited
     * instead): a real wait for brokers on the real clock.
     */
    protected void elapse(Duration duration) {
        await().pollDelay(duration).atMost(duration.plusSeconds(5)).until(() -> true);
    }

    @BeforeEach
    void newStream() {
        stream = "contract-" + UUID.randomUUID();
    }

    @AfterEach
    void closeBrokers() {
        brokers.forEach(Broker::close);
        brokers.clear();
    }

    protected final Broker broker(RetryPolicy policy) {
        Broker broker = newBroker(policy);
        brokers.add(broker);
        return broker;
    }

    protected final Broker broker() {
        return broker(POLICY);
    }

    /** Reads until something comes, letting broker time pass. */
    protected final List<Message> awaitRead(Broker broker, String group, int max) {
        AtomicReference<List<Message>> result = new AtomicReference<>(List.of());
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(10)).until(() -> {
            tick(Duration.ofMillis(10));
            result.set(broker.read(stream, group, max));
            return !result.get().isEmpty();
        });
        return result.get();
    }

    private static Map<String, Object> event(int n) {
        return Map.of("event_type", "order.placed", "n", n);
    }

    @Test
    void declares_at_least_reliable_messaging_with_a_dead_letter_queue() {
        Broker broker = broker();
        assertTrue(broker.hasAllCapabilities(CapabilityTier.RELIABLE_MESSAGING.capabilities()), broker.capabilities()::toString);
        assertTrue(broker.hasCapability(BrokerCapability.DEAD_LETTER_QUEUE));
        assertNotNull(broker.tier());
    }

    @Test
    void published_message_is_read_with_its_payload_type_and_first_delivery() {
        Broker broker = broker();
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("event_type", "user.registered");
        payload.put("user_id", "123");
        payload.put("nested", Map.of("list", List.of(1, 2.5, "three", true), "big", 1L << 40));
        payload.put("text", "ünïcödé \"quoted\"\n");
        payload.put("nothing", null);
        String id = broker.publish(stream, payload);

        Message message = broker.getNext(stream, "g").orElseThrow();
        assertEquals(id, message.id());
        assertEquals(stream, message.stream());
        assertEquals(payload, message.payload());
        assertEquals("user.registered", message.type());
        assertEquals(1, message.deliveryCount());
        assertTrue(broker.getNext(stream, "g").isEmpty(), "a message is delivered once within a group");
    }

    @Test
    void reading_an_empty_or_unknown_stream_gives_nothing() {
        Broker broker = broker();
        assertTrue(broker.read(stream, "g", 10).isEmpty());
        assertTrue(broker.getNext(stream, "g").isEmpty());
    }

    @Test
    void messages_published_before_the_group_existed_are_delivered() {
        Broker broker = broker();
        broker.publish(stream, event(1));
        broker.publish(stream, event(2));
        assertEquals(2, broker.read(stream, "late-group", 10).size());
    }

    @Test
    void read_gives_at_most_max_and_the_rest_later() {
        Broker broker = broker();
        for (int i = 0; i < 5; i++) {
            broker.publish(stream, event(i));
        }
        assertEquals(3, broker.read(stream, "g", 3).size());
        assertEquals(2, broker.read(stream, "g", 3).size());
        assertTrue(broker.read(stream, "g", 3).isEmpty());
    }

    @Test
    void messages_come_in_publishing_order_where_the_broker_promises_it() {
        Broker broker = broker();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            ids.add(broker.publish(stream, event(i)));
        }
        List<String> read = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            broker.read(stream, "g", 10).forEach(m -> read.add(m.id()));
        }
        if (broker.hasCapability(BrokerCapability.MESSAGE_ORDERING)) {
            assertEquals(ids, read);
        } else {
            // Without the promise of order, the promise of each message once per group still holds.
            assertEquals(ids.size(), read.size());
            assertEquals(new java.util.HashSet<>(ids), new java.util.HashSet<>(read));
        }
    }

    @Test
    void each_group_gets_every_message() {
        Broker broker = broker();
        for (int i = 0; i < 3; i++) {
            broker.publish(stream, event(i));
        }
        assertEquals(3, broker.read(stream, "billing", 10).size());
        assertEquals(3, broker.read(stream, "shipping", 10).size());
        assertTrue(broker.read(stream, "billing", 10).isEmpty());
    }

    @Test
    void ack_is_true_once_and_an_acknowledged_message_never_comes_back() {
        Broker broker = broker();
        broker.publish(stream, event(1));
        Message message = broker.getNext(stream, "g").orElseThrow();
        assertTrue(broker.ack(stream, message.id(), "g"));
        assertFalse(broker.ack(stream, message.id(), "g"));
        assertFalse(broker.nack(stream, message.id(), "g"), "an acknowledged message cannot be rejected");
        tick(Duration.ofSeconds(5));
        assertTrue(broker.read(stream, "g", 10).isEmpty());
    }

    @Test
    void ack_all_acknowledges_the_held_messages_and_counts_only_those() {
        Broker broker = broker();
        for (int i = 0; i < 5; i++) {
            broker.publish(stream, event(i));
        }
        List<Message> read = broker.read(stream, "g", 4);
        assertEquals(4, read.size());
        List<String> ids = new ArrayList<>(read.stream().map(Message::id).toList());
        assertEquals(0, broker.ackAll(stream, List.of(), "g"));
        assertEquals(3, broker.ackAll(stream, ids.subList(0, 3), "g"));
        ids.add("1-1"); // never delivered
        ids.add("not-an-id");
        assertEquals(1, broker.ackAll(stream, ids, "g"), "only the fourth was still held");
        assertEquals(0, broker.ackAll(stream, ids, "never-read"));
        assertThrows(IllegalArgumentException.class, () -> broker.ackAll(stream, null, "g"));
        assertThrows(IllegalArgumentException.class, () -> broker.ackAll(stream, List.of(" "), "g"));
        tick(Duration.ofSeconds(5));
        List<Message> rest = broker.read(stream, "g", 10);
        assertEquals(1, rest.size(), "acknowledged messages never come back; the unread one does");
        assertEquals(4, rest.get(0).payload().get("n"));
    }

    @Test
    void ack_and_nack_of_unknown_messages_or_groups_are_false() {
        Broker broker = broker();
        String id = broker.publish(stream, event(1));
        assertFalse(broker.ack(stream, id, "never-read"));
        assertFalse(broker.nack(stream, id, "never-read"));
        broker.read(stream, "g", 1);
        assertFalse(broker.ack(stream, "1-1", "g"));
        assertFalse(broker.nack(stream, "1-1", "g"));
        assertFalse(broker.ack(stream, "not-an-id", "g"));
        assertFalse(broker.ack("no-such-stream-" + UUID.randomUUID(), id, "g"));
    }

    @Test
    void ack_in_one_group_leaves_the_other_groups_copy() {
        Broker broker = broker();
        broker.publish(stream, event(1));
        Message a = broker.getNext(stream, "a").orElseThrow();
        assertTrue(broker.ack(stream, a.id(), "a"));
        Message b = broker.getNext(stream, "b").orElseThrow();
        assertTrue(broker.nack(stream, b.id(), "b"));
        assertEquals(a.id(), awaitRead(broker, "b", 1).get(0).id());
        assertTrue(broker.read(stream, "a", 1).isEmpty());
    }

    @Test
    void a_rejected_message_comes_back_after_the_retry_delay_with_backoff() {
        Broker broker = broker();
        String id = broker.publish(stream, event(1));
        Message first = broker.getNext(stream, "g").orElseThrow();

        Instant rejected = now();
        assertTrue(broker.nack(stream, id, "g"));
        assertFalse(broker.nack(stream, id, "g"), "a message waiting for its retry is not held");
        assertTrue(broker.read(stream, "g", 10).isEmpty(), "not before the retry delay");
        Message second = awaitRead(broker, "g", 10).get(0);
        Duration firstDelay = Duration.between(rejected, now());
        assertEquals(first.id(), second.id());
        assertEquals(first.payload(), second.payload());
        assertEquals(2, second.deliveryCount());
        assertTrue(firstDelay.compareTo(POLICY.delayBeforeRetry(1).minusMillis(5)) >= 0, firstDelay::toString);

        rejected = now();
        assertTrue(broker.nack(stream, id, "g"));
        Message third = awaitRead(broker, "g", 10).get(0);
        Duration secondDelay = Duration.between(rejected, now());
        assertEquals(3, third.deliveryCount());
        assertTrue(secondDelay.compareTo(POLICY.delayBeforeRetry(2).minusMillis(5)) >= 0, secondDelay::toString);
    }

    @Test
    void a_retry_comes_before_new_messages() {
        Broker broker = broker();
        String id = broker.publish(stream, event(1));
        broker.getNext(stream, "g").orElseThrow();
        broker.nack(stream, id, "g");
        elapse(POLICY.retryDelay().plusMillis(50));
        broker.publish(stream, event(2));
        List<Message> read = broker.read(stream, "g", 1);
        assertEquals(1, read.size());
        assertEquals(id, read.get(0).id());
    }

    @Test
    void acknowledging_a_message_that_waits_for_its_retry_ends_it() {
        Broker broker = broker();
        String id = broker.publish(stream, event(1));
        broker.getNext(stream, "g").orElseThrow();
        broker.nack(stream, id, "g");
        assertTrue(broker.ack(stream, id, "g"));
        elapse(POLICY.delayBeforeRetry(1).plusMillis(100));
        assertTrue(broker.read(stream, "g", 10).isEmpty());
    }

    @Test
    void a_message_rejected_more_than_max_retries_is_dead_lettered() {
        Broker broker = broker();
        Map<String, Object> payload = event(7);
        String id = broker.publish(stream, payload);
        int deliveries = 0;
        while (true) {
            List<Message> read = deliveries == 0 ? broker.read(stream, "g", 1) : awaitRead(broker, "g", 1);
            deliveries++;
            assertEquals(deliveries, read.get(0).deliveryCount());
            assertTrue(broker.nack(stream, id, "g"));
            if (deliveries == POLICY.maxRetries() + 1) {
                break;
            }
        }
        assertEquals(1, broker.deadLetterDepth(stream));
        tick(Duration.ofMinutes(5));
        assertTrue(broker.read(stream, "g", 10).isEmpty(), "a dead letter is not delivered again");

        DeadLetter letter = broker.deadLetters(stream, 10).get(0);
        assertEquals(DeadLetter.MAX_RETRIES_EXCEEDED, letter.reason());
        assertEquals(id, letter.message().id());
        assertEquals(stream, letter.message().stream());
        assertEquals(payload, letter.message().payload());
        assertEquals("g", letter.group());
        assertEquals(POLICY.maxRetries() + 1, letter.attempts());
        assertNotNull(letter.failedAt());
        assertEquals(letter, broker.deadLetter(stream, letter.id()).orElseThrow());
        assertTrue(broker.deadLetter(stream, "1-1").isEmpty());
    }

    @Test
    void a_message_dead_lettered_at_once_skips_its_retries_and_is_done_for_the_group() {
        Broker broker = broker();
        String id = broker.publish(stream, event(3));
        broker.read(stream, "g", 1);
        assertFalse(broker.moveToDeadLetters(stream, id, "other-group", "cannot bind"), "not held by that group");
        assertTrue(broker.moveToDeadLetters(stream, id, "g", "cannot bind"));
        assertFalse(broker.moveToDeadLetters(stream, id, "g", "cannot bind"), "already done");
        assertFalse(broker.ack(stream, id, "g"));
        tick(Duration.ofMinutes(5));
        assertTrue(broker.read(stream, "g", 10).isEmpty(), "not retried");
        DeadLetter letter = broker.deadLetters(stream, 10).get(0);
        assertEquals("cannot bind", letter.reason());
        assertEquals(id, letter.message().id());
        assertEquals("g", letter.group());
        assertEquals(1, letter.attempts());
    }

    @Test
    void dead_letters_are_listed_newest_first_replayed_and_purged() {
        Broker broker = broker(new RetryPolicy(0, Duration.ZERO, 1.0, Duration.ofSeconds(30), true));
        for (int i = 0; i < 3; i++) {
            broker.publish(stream, event(i));
        }
        for (Message m : broker.read(stream, "g", 3)) {
            assertTrue(broker.nack(stream, m.id(), "g"));
        }
        List<DeadLetter> letters = broker.deadLetters(stream, 10);
        assertEquals(List.of(2, 1, 0), letters.stream().map(l -> l.message().payload().get("n")).toList());
        assertEquals(2, broker.deadLetters(stream, 2).size());

        assertTrue(broker.replayDeadLetter(stream, letters.get(2).id()));
        assertFalse(broker.replayDeadLetter(stream, letters.get(2).id()));
        assertEquals(2, broker.deadLetterDepth(stream));
        Message replayed = broker.getNext(stream, "g").orElseThrow();
        assertEquals(0, replayed.payload().get("n"));
        assertEquals(1, replayed.deliveryCount());

        assertEquals(2, broker.replayAllDeadLetters(stream));
        assertEquals(0, broker.deadLetterDepth(stream));
        // Oldest first.
        assertEquals(List.of(1, 2), broker.read(stream, "g", 10).stream().map(m -> m.payload().get("n")).toList());

        for (Message m : broker.read(stream, "other", 10)) {
            broker.nack(stream, m.id(), "other");
        }
        assertTrue(broker.deadLetterDepth(stream) > 0);
        long depth = broker.deadLetterDepth(stream);
        assertEquals(depth, broker.purgeDeadLetters(stream));
        assertEquals(0, broker.deadLetterDepth(stream));
        assertTrue(broker.deadLetters(stream, 10).isEmpty());
    }

    @Test
    void with_the_dead_letter_queue_disabled_an_exhausted_message_is_dropped() {
        Broker broker = broker(new RetryPolicy(0, Duration.ZERO, 1.0, Duration.ofSeconds(30), false));
        String id = broker.publish(stream, event(1));
        broker.getNext(stream, "g").orElseThrow();
        assertTrue(broker.nack(stream, id, "g"));
        assertEquals(0, broker.deadLetterDepth(stream));
        tick(Duration.ofMinutes(1));
        assertTrue(broker.read(stream, "g", 10).isEmpty());
    }

    @Test
    void a_message_held_past_the_message_timeout_is_not_lost() {
        Broker broker = broker(new RetryPolicy(3, Duration.ofMillis(100), 1.0, Duration.ofMillis(500), true));
        String id = broker.publish(stream, event(1));
        broker.getNext(stream, "g").orElseThrow();
        // Never acknowledged: it comes back (Redis reclaims it) or is dead-lettered as timed out (inline).
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50)).until(() -> {
            tick(Duration.ofMillis(50));
            List<Message> again = broker.read(stream, "g", 1);
            if (!again.isEmpty()) {
                assertEquals(id, again.get(0).id());
                assertEquals(2, again.get(0).deliveryCount());
                return true;
            }
            return broker.deadLetters(stream, 1).stream().anyMatch(l -> l.message().id().equals(id)
                    && l.reason().equals(DeadLetter.TIMEOUT));
        });
    }

    @Test
    void invalid_messages_are_refused_and_nothing_is_sent() {
        Broker broker = broker();
        assertThrows(IllegalArgumentException.class, () -> broker.publish(stream, null));
        assertThrows(IllegalArgumentException.class, () -> broker.publish(stream, Map.of()));
        assertThrows(IllegalArgumentException.class, () -> broker.publish(stream, "[1,2]"));
        assertThrows(IllegalArgumentException.class, () -> broker.publish(stream, "{not json"));
        assertThrows(IllegalArgumentException.class, () -> broker.publish(stream, 42));
        assertThrows(IllegalArgumentException.class, () -> broker.publish(" ", event(1)));
        assertThrows(IllegalArgumentException.class, () -> broker.publish(null, event(1)));
        assertThrows(IllegalArgumentException.class,
                () -> broker.publishAll(stream, List.of(event(1), Map.of())));
        assertThrows(IllegalArgumentException.class, () -> broker.read(stream, "g", 0));
        assertThrows(IllegalArgumentException.class, () -> broker.read(stream, " ", 1));
        assertThrows(IllegalArgumentException.class, () -> broker.ack(stream, null, "g"));
        assertThrows(IllegalArgumentException.class, () -> broker.deadLetters(stream, 0));
        assertTrue(broker.read(stream, "g", 10).isEmpty(), "nothing was sent");
    }

    @Test
    void a_json_text_is_published_as_the_object_it_holds() {
        Broker broker = broker();
        broker.publish(stream, "{\"type\":\"email\",\"to\":\"user@example.com\"}");
        Message message = broker.getNext(stream, "g").orElseThrow();
        assertEquals(Map.of("type", "email", "to", "user@example.com"), message.payload());
        assertEquals("email", message.type());
    }

    @Test
    void publish_all_keeps_order_and_ids() {
        Broker broker = broker();
        List<Map<String, Object>> batch = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            batch.add(event(i));
        }
        List<String> ids = broker.publishAll(stream, batch);
        assertEquals(20, new HashSet<>(ids).size());
        List<Message> read = broker.read(stream, "g", 50);
        assertEquals(20, read.size());
        assertEquals(Set.copyOf(ids), Set.copyOf(read.stream().map(Message::id).toList()));
        assertTrue(broker.publishAll(stream, List.of()).isEmpty());
    }

    @Test
    void concurrent_publishers_lose_nothing() throws Exception {
        Broker broker = broker();
        int threads = 8;
        int each = 250;
        Set<String> ids = ConcurrentHashMap.newKeySet();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < each; i++) {
                        ids.add(broker.publish(stream, Map.of("thread", thread, "i", i)));
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(threads * each, ids.size());
        Set<String> read = new HashSet<>();
        List<Message> batch;
        while (!(batch = broker.read(stream, "g", 500)).isEmpty()) {
            batch.forEach(m -> read.add(m.id()));
        }
        assertEquals(ids, read);
    }

    @Test
    void a_blocking_read_waits_for_a_message_or_answers_at_once_without_the_capability() throws Exception {
        Broker broker = broker();
        assertTrue(broker.read(stream, "g", 1, Duration.ZERO).isEmpty());
        if (!broker.hasCapability(BrokerCapability.BLOCKING_READ)) {
            long start = System.nanoTime();
            assertTrue(broker.read(stream, "g", 1, Duration.ofSeconds(5)).isEmpty());
            assertTrue(System.nanoTime() - start < Duration.ofSeconds(2).toNanos(), "no blocking");
            return;
        }
        long start = System.nanoTime();
        assertTrue(broker.read(stream, "g", 1, Duration.ofMillis(300)).isEmpty());
        long waited = System.nanoTime() - start;
        assertTrue(waited >= Duration.ofMillis(250).toNanos(), "waited " + waited / 1_000_000 + " ms");

        ExecutorService reader = Executors.newSingleThreadExecutor();
        try {
            Future<List<Message>> pending = reader.submit(() -> broker.read(stream, "g", 1, Duration.ofSeconds(1)));
            elapse(Duration.ofMillis(100)); // let the reader start waiting
            String id = broker.publish(stream, event(1));
            List<Message> got = pending.get(5, TimeUnit.SECONDS);
            assertEquals(1, got.size());
            assertEquals(id, got.get(0).id());
        } finally {
            reader.shutdownNow();
        }
    }

    @Test
    void replay_moves_a_group_back_so_it_reads_the_history_again() {
        Broker broker = broker();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ids.add(broker.publish(stream, event(i)));
        }
        for (Message m : broker.read(stream, "g", 10)) {
            broker.ack(stream, m.id(), "g");
        }
        if (!broker.hasCapability(BrokerCapability.REPLAY)) {
            // As Protean's brokers do for a missing capability: nothing happens, and it says so.
            assertFalse(broker.replay(stream, "g", ids.get(1)));
            assertTrue(broker.read(stream, "g", 10).isEmpty(), "the group did not move back");
            return;
        }
        assertTrue(broker.replay(stream, "g", ids.get(1)));
        assertEquals(ids.subList(1, 4), broker.read(stream, "g", 10).stream().map(Message::id).toList());
        assertTrue(broker.replay(stream, "g", "0"));
        assertEquals(ids, broker.read(stream, "g", 10).stream().map(Message::id).toList());
        assertTrue(broker.replay(stream, "new-group", ids.get(3)));
        assertEquals(ids.subList(3, 4), broker.read(stream, "new-group", 10).stream().map(Message::id).toList());
    }

    @Test
    void health_and_info_show_the_broker_and_counts() {
        Broker broker = broker();
        broker.publish(stream, event(1));
        broker.read(stream, "g", 1);
        assertTrue(broker.ping());
        HealthStats health = broker.healthStats();
        assertTrue(health.connected());
        assertEquals(HealthStats.Status.HEALTHY, health.status());
        assertTrue(health.messageCounts().total() >= 1);
        assertEquals(1, health.messageCounts().inFlight());
        assertEquals(broker.provider(), broker.info().get("provider"));
    }
}
