package dev.courier.inline;

import dev.courier.BrokerCapability;
import dev.courier.CapabilityTier;
import dev.courier.DeadLetter;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.ManualClock;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InlineBrokerTest {

    static final Duration DELAY = Duration.ofSeconds(1);
    static final Duration TIMEOUT = Duration.ofSeconds(300);

    final ManualClock clock = new ManualClock();
    InlineBroker broker = broker(new RetryPolicy(3, DELAY, 2.0, TIMEOUT, true));

    InlineBroker broker(RetryPolicy policy) {
        return new InlineBroker("test", policy, clock);
    }

    static Map<String, Object> event(int n) {
        return Map.of("event_type", "thing.happened", "n", n);
    }

    Message readOne(String stream, String group) {
        List<Message> messages = broker.read(stream, group, 10);
        assertEquals(1, messages.size(), "expected exactly one message, got " + messages);
        return messages.get(0);
    }

    @Test
    void has_reliable_messaging_and_a_dead_letter_queue_and_nothing_more() {
        assertEquals(CapabilityTier.RELIABLE_MESSAGING, broker.tier());
        assertTrue(broker.hasCapability(BrokerCapability.DEAD_LETTER_QUEUE));
        assertFalse(broker.hasAnyCapability(BrokerCapability.MESSAGE_ORDERING, BrokerCapability.BLOCKING_READ,
                BrokerCapability.REPLAY, BrokerCapability.STREAM_PARTITIONING));
        assertEquals("inline", broker.provider());
        assertEquals("test", broker.name());
    }

    @Nested
    class Publishing {

        @Test
        void publish_returns_a_unique_id() {
            Set<String> ids = new HashSet<>();
            for (int i = 0; i < 1000; i++) {
                ids.add(broker.publish(i % 2 == 0 ? "a" : "b", event(i)));
            }
            assertEquals(1000, ids.size());
        }

        @Test
        void null_message_is_refused_and_nothing_is_sent() {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> broker.publish("s", null));
            assertTrue(e.getMessage().contains("must not be null"), e.getMessage());
            assertTrue(broker.read("s", "g", 10).isEmpty());
        }

        @Test
        void empty_message_is_refused_and_nothing_is_sent() {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> broker.publish("s", Map.of()));
            assertTrue(e.getMessage().contains("must not be empty"), e.getMessage());
            assertTrue(broker.read("s", "g", 10).isEmpty());
        }

        @Test
        void unserialisable_message_is_refused_and_nothing_is_sent() {
            IllegalArgumentException nan = assertThrows(IllegalArgumentException.class,
                    () -> broker.publish("s", Map.of("ratio", Double.NaN)));
            assertTrue(nan.getMessage().contains("message.ratio"), nan.getMessage());
            IllegalArgumentException key = assertThrows(IllegalArgumentException.class,
                    () -> broker.publish("s", Map.of(1, "one")));
            assertTrue(key.getMessage().contains("not a string"), key.getMessage());
            IllegalArgumentException scalar = assertThrows(IllegalArgumentException.class,
                    () -> broker.publish("s", 42));
            assertTrue(scalar.getMessage().contains("must be a JSON object"), scalar.getMessage());
            IllegalArgumentException text = assertThrows(IllegalArgumentException.class,
                    () -> broker.publish("s", "[1, 2]"));
            assertTrue(text.getMessage().contains("must be a JSON object"), text.getMessage());
            assertTrue(broker.read("s", "g", 10).isEmpty());
        }

        @Test
        void blank_stream_is_refused() {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> broker.publish(" ", event(1)));
            assertTrue(e.getMessage().contains("stream"), e.getMessage());
        }

        @Test
        void the_callers_object_is_never_mutated_nor_kept() {
            Map<String, Object> nested = new HashMap<>(Map.of("city", "Oslo"));
            Map<String, Object> original = new HashMap<>(Map.of("event_type", "moved", "address", nested));
            Map<String, Object> before = Map.of("event_type", "moved", "address", Map.of("city", "Oslo"));

            broker.publish("s", original);
            nested.put("city", "Bergen");
            original.put("extra", true);

            Message message = readOne("s", "g");
            assertEquals(before, message.payload());
            assertThrows(UnsupportedOperationException.class, () -> message.payload().put("x", 1));
        }

        @Test
        void a_read_returns_a_payload_equal_to_what_was_published() {
            Map<String, Object> published = Map.of("event_type", "user.registered", "user_id", "123",
                    "age", 42, "score", 9.5, "vip", true, "tags", List.of("a", "b"),
                    "address", Map.of("city", "Oslo"));
            broker.publish("user-events", published);
            Message message = readOne("user-events", "g");
            assertEquals(published, message.payload());
            assertEquals("user.registered", message.type());
            assertEquals("user-events", message.stream());
            assertEquals(1, message.deliveryCount());
        }

        @Test
        void a_json_string_and_an_object_are_published_as_json_objects() {
            broker.publish("s", "{\"type\": \"email\", \"to\": \"user@example.com\"}");
            broker.publish("s", new Email("user@example.com", "Welcome!"));
            List<Message> messages = broker.read("s", "g", 10);
            assertEquals(Map.of("type", "email", "to", "user@example.com"), messages.get(0).payload());
            assertEquals(Map.of("to", "user@example.com", "subject", "Welcome!"), messages.get(1).payload());
            assertEquals("email", messages.get(0).type());
        }

        @Test
        void streams_are_isolated() {
            broker.publish("a", event(1));
            broker.publish("b", event(2));
            assertEquals(event(1), readOne("a", "g").payload());
            assertEquals(event(2), readOne("b", "g").payload());
            assertTrue(broker.read("a", "g", 10).isEmpty());
        }
    }

    public record Email(String to, String subject) {
    }

    @Nested
    class ConsumerGroups {

        @Test
        void each_group_has_its_own_position_and_is_created_on_first_use() {
            broker.publish("s", event(1));
            broker.publish("s", event(2));
            assertEquals(event(1), broker.getNext("s", "g1").orElseThrow().payload());
            assertEquals(event(1), broker.getNext("s", "g2").orElseThrow().payload());
            assertEquals(event(2), broker.getNext("s", "g1").orElseThrow().payload());
            assertEquals(event(2), broker.getNext("s", "g2").orElseThrow().payload());
        }

        @Test
        void a_group_never_receives_one_message_twice() {
            IntStream.range(0, 50).forEach(i -> broker.publish("s", event(i)));
            Set<String> seen = new HashSet<>();
            List<Message> batch;
            while (!(batch = broker.read("s", "g", 7)).isEmpty()) {
                for (Message m : batch) {
                    assertTrue(seen.add(m.id()), "delivered twice: " + m.id());
                }
            }
            assertEquals(50, seen.size());
        }

        @Test
        void delivery_order_is_publishing_order() {
            List<String> ids = new ArrayList<>();
            IntStream.range(0, 20).forEach(i -> ids.add(broker.publish("s", event(i))));
            List<String> read = new ArrayList<>();
            broker.read("s", "g", 5).forEach(m -> read.add(m.id()));
            broker.read("s", "g", 100).forEach(m -> read.add(m.id()));
            assertEquals(ids, read);
        }

        @Test
        void get_next_on_an_empty_stream_gives_nothing() {
            assertEquals(Optional.empty(), broker.getNext("empty", "g"));
        }

        @Test
        void read_gives_at_most_what_is_there() {
            broker.publish("s", event(1));
            broker.publish("s", event(2));
            assertEquals(2, broker.read("s", "g", 10).size());
            assertTrue(broker.read("s", "g", 10).isEmpty());
        }

        @Test
        void read_of_zero_messages_is_refused() {
            assertThrows(IllegalArgumentException.class, () -> broker.read("s", "g", 0));
        }
    }

    @Nested
    class AckAndNack {

        @Test
        void ack_is_true_once_then_false() {
            broker.publish("s", event(1));
            Message m = readOne("s", "g");
            assertTrue(broker.ack("s", m.id(), "g"));
            assertFalse(broker.ack("s", m.id(), "g"));
        }

        @Test
        void ack_of_an_unknown_id_or_by_another_group_is_false() {
            broker.publish("s", event(1));
            Message m = readOne("s", "g");
            assertFalse(broker.ack("s", "no-such-id", "g"));
            assertFalse(broker.ack("s", m.id(), "other-group"));
            assertFalse(broker.ack("other-stream", m.id(), "g"));
            assertTrue(broker.ack("s", m.id(), "g"));
        }

        @Test
        void nack_after_ack_is_false() {
            broker.publish("s", event(1));
            Message m = readOne("s", "g");
            assertTrue(broker.ack("s", m.id(), "g"));
            assertFalse(broker.nack("s", m.id(), "g"));
        }

        @Test
        void ack_after_nack_is_true_and_the_message_does_not_come_back() {
            broker.publish("s", event(1));
            Message m = readOne("s", "g");
            assertTrue(broker.nack("s", m.id(), "g"));
            assertTrue(broker.ack("s", m.id(), "g"));
            clock.advance(Duration.ofHours(2));
            assertTrue(broker.read("s", "g", 10).isEmpty());
        }

        @Test
        void a_nacked_message_comes_back_with_the_same_id_and_payload_after_the_backoff() {
            broker.publish("s", event(1));
            Message first = readOne("s", "g");
            Message held = first;
            // The n-th redelivery comes retry-delay * 2^(n-1) after the n-th nack: 1 s, 2 s, 4 s.
            for (int n = 1; n <= 3; n++) {
                assertTrue(broker.nack("s", held.id(), "g"));
                Duration delay = DELAY.multipliedBy(1L << (n - 1));
                clock.advance(delay.minusMillis(1));
                assertTrue(broker.read("s", "g", 10).isEmpty(), "redelivered before " + delay);
                clock.advance(Duration.ofMillis(1));
                held = readOne("s", "g");
                assertEquals(first.id(), held.id());
                assertEquals(first.payload(), held.payload());
                assertEquals(n + 1, held.deliveryCount());
            }
        }

        @Test
        void after_max_retries_the_message_goes_to_the_dead_letter_queue() {
            broker.publish("s", event(1));
            String id = readOne("s", "g").id();
            for (int delivery = 1; delivery <= 4; delivery++) {
                if (delivery > 1) {
                    clock.advance(Duration.ofHours(1));
                    assertEquals(id, readOne("s", "g").id());
                }
                assertTrue(broker.nack("s", id, "g"));
            }
            clock.advance(Duration.ofHours(1));
            assertTrue(broker.read("s", "g", 10).isEmpty(), "a dead-lettered message is not redelivered");
            List<DeadLetter> dead = broker.deadLetters("s", 10);
            assertEquals(1, dead.size());
            assertEquals(DeadLetter.MAX_RETRIES_EXCEEDED, dead.get(0).reason());
            assertEquals(id, dead.get(0).message().id());
            assertEquals(event(1), dead.get(0).message().payload());
            assertEquals("g", dead.get(0).group());
            assertEquals(4, dead.get(0).attempts());
        }

        @Test
        void with_the_dead_letter_queue_disabled_an_exhausted_message_is_discarded() {
            broker = broker(new RetryPolicy(0, DELAY, 2.0, TIMEOUT, false));
            broker.publish("s", event(1));
            Message m = readOne("s", "g");
            assertTrue(broker.nack("s", m.id(), "g"));
            clock.advance(Duration.ofHours(1));
            assertTrue(broker.read("s", "g", 10).isEmpty());
            assertEquals(0, broker.deadLetterDepth("s"));
            assertEquals(1L, broker.healthStats().details().get("discarded"));
        }

        @Test
        void a_message_held_longer_than_the_message_timeout_goes_to_the_dead_letter_queue() {
            broker.publish("s", event(1));
            broker.publish("s", event(2));
            Message slow = broker.read("s", "g", 1).get(0);
            clock.advance(TIMEOUT.minusSeconds(10));
            Message fresh = broker.read("s", "g", 1).get(0);
            clock.advance(Duration.ofSeconds(10));

            assertFalse(broker.ack("s", slow.id(), "g"), "the timed-out message is no longer held");
            assertTrue(broker.ack("s", fresh.id(), "g"));
            DeadLetter dead = broker.deadLetters("s", 10).get(0);
            assertEquals(DeadLetter.TIMEOUT, dead.reason());
            assertEquals(slow.id(), dead.message().id());
        }
    }

    @Nested
    class DeadLetters {

        /** Dead-letters message n of stream s with max-retries 0: one nack sends it to the DLQ. */
        InlineBroker failing() {
            InlineBroker b = broker(new RetryPolicy(0, DELAY, 2.0, TIMEOUT, true));
            broker = b;
            return b;
        }

        void deadLetter(String stream, int n) {
            broker.publish(stream, event(n));
            Message m = broker.getNext(stream, "g").orElseThrow();
            assertTrue(broker.nack(stream, m.id(), "g"));
        }

        @Test
        void list_is_newest_first_per_stream_with_a_limit() {
            failing();
            for (int n = 1; n <= 5; n++) {
                deadLetter("s", n);
            }
            deadLetter("other", 99);
            List<DeadLetter> newest = broker.deadLetters("s", 3);
            assertEquals(List.of(event(5), event(4), event(3)),
                    newest.stream().map(d -> d.message().payload()).toList());
            assertEquals(5, broker.deadLetterDepth("s"));
            assertEquals(1, broker.deadLetterDepth("other"));
            assertEquals(0, broker.deadLetterDepth("never-used"));
        }

        @Test
        void inspect_finds_one_dead_letter_by_its_id() {
            failing();
            deadLetter("s", 1);
            DeadLetter listed = broker.deadLetters("s", 1).get(0);
            assertEquals(Optional.of(listed), broker.deadLetter("s", listed.id()));
            assertEquals(Optional.empty(), broker.deadLetter("s", "unknown"));
            assertEquals(Optional.empty(), broker.deadLetter("other", listed.id()));
        }

        @Test
        void replay_removes_the_dead_letter_and_publishes_it_again() {
            failing();
            deadLetter("s", 1);
            DeadLetter letter = broker.deadLetters("s", 1).get(0);
            assertTrue(broker.replayDeadLetter("s", letter.id()));
            assertFalse(broker.replayDeadLetter("s", letter.id()));
            assertEquals(0, broker.deadLetterDepth("s"));
            Message again = broker.getNext("s", "g").orElseThrow();
            assertEquals(event(1), again.payload());
            assertNotEquals(letter.message().id(), again.id(), "replayed as a new message");
            assertEquals(1, again.deliveryCount());
        }

        @Test
        void replay_all_republishes_oldest_first_and_counts() {
            failing();
            deadLetter("s", 1);
            deadLetter("s", 2);
            assertEquals(2, broker.replayAllDeadLetters("s"));
            assertEquals(0, broker.deadLetterDepth("s"));
            assertEquals(List.of(event(1), event(2)),
                    broker.read("s", "g", 10).stream().map(Message::payload).toList());
        }

        @Test
        void purge_deletes_and_returns_the_count() {
            failing();
            deadLetter("s", 1);
            deadLetter("s", 2);
            deadLetter("other", 3);
            assertEquals(2, broker.purgeDeadLetters("s"));
            assertEquals(0, broker.purgeDeadLetters("s"));
            assertEquals(0, broker.deadLetterDepth("s"));
            assertEquals(1, broker.deadLetterDepth("other"));
        }

        @Test
        void a_held_message_is_dead_lettered_at_once_with_the_given_reason() {
            broker.publish("s", event(1));
            Message m = readOne("s", "g");
            assertTrue(broker.moveToDeadLetters("s", m.id(), "g", "cannot bind: n is not a number"));

            DeadLetter dead = broker.deadLetters("s", 10).get(0);
            assertEquals("cannot bind: n is not a number", dead.reason());
            assertEquals(m.id(), dead.message().id());
            assertEquals("g", dead.group());
            assertEquals(1, dead.attempts());
            assertFalse(broker.ack("s", m.id(), "g"), "the group is done with it");
            clock.advance(Duration.ofHours(1));
            assertTrue(broker.read("s", "g", 10).isEmpty(), "no retry");
        }

        @Test
        void dead_lettering_a_message_the_group_does_not_hold_is_false() {
            broker.publish("s", event(1));
            Message m = readOne("s", "g");
            assertFalse(broker.moveToDeadLetters("s", m.id(), "other", "x"));
            assertFalse(broker.moveToDeadLetters("s", "no-such-id", "g", "x"));
            assertFalse(broker.moveToDeadLetters("nowhere", m.id(), "g", "x"));
            assertTrue(broker.ack("s", m.id(), "g"));
            assertFalse(broker.moveToDeadLetters("s", m.id(), "g", "x"), "an acknowledged message is not held");
            assertEquals(0, broker.deadLetterDepth("s"));
            assertThrows(IllegalArgumentException.class, () -> broker.moveToDeadLetters("s", m.id(), "g", " "));
        }
    }

    @Nested
    class Health {

        @Test
        void ping_is_true() {
            assertTrue(broker.ping());
        }

        @Test
        void health_stats_count_in_flight_failed_and_dead_lettered_and_report_the_settings() {
            broker = broker(new RetryPolicy(1, DELAY, 3.0, TIMEOUT, true));
            for (int i = 0; i < 3; i++) {
                broker.publish("s", event(i));
            }
            List<Message> held = broker.read("s", "g", 3);
            broker.ack("s", held.get(0).id(), "g");
            broker.nack("s", held.get(1).id(), "g");            // failed, waits for a retry
            clock.advance(Duration.ofSeconds(1));
            Message retried = broker.getNext("s", "g").orElseThrow();
            broker.nack("s", retried.id(), "g");                // failed again: dead-lettered

            HealthStats stats = broker.healthStats();
            assertTrue(stats.healthy());
            assertTrue(stats.connected());
            assertEquals(new HealthStats.MessageCounts(3, 1, 2, 1), stats.messageCounts());
            assertEquals(1, stats.details().get("max_retries"));
            assertEquals(1000L, stats.details().get("retry_delay_ms"));
            assertEquals(3.0, stats.details().get("backoff_multiplier"));
            assertEquals(300_000L, stats.details().get("message_timeout_ms"));
            assertEquals(true, stats.details().get("enable_dlq"));
        }
    }

    @Test
    void backoff_does_not_overflow_for_large_attempt_numbers() {
        RetryPolicy policy = new RetryPolicy(Integer.MAX_VALUE, DELAY, 2.0, TIMEOUT, true);
        assertEquals(RetryPolicy.MAX_DELAY, policy.delayBeforeRetry(64));
        assertEquals(RetryPolicy.MAX_DELAY, policy.delayBeforeRetry(Integer.MAX_VALUE));
        assertEquals(Duration.ofSeconds(4), policy.delayBeforeRetry(3));

        broker = broker(policy);
        broker.publish("s", event(1));
        Message m = readOne("s", "g");
        for (int i = 0; i < 100; i++) {
            assertTrue(broker.nack("s", m.id(), "g"));
            clock.advance(RetryPolicy.MAX_DELAY);
            m = readOne("s", "g");
        }
        assertEquals(101, m.deliveryCount());
    }

    @Test
    void a_message_over_max_message_size_is_refused_with_its_size_and_the_limit_and_nothing_is_sent() {
        InlineBroker small = new InlineBroker("test", RetryPolicy.DEFAULT,
                new dev.courier.spi.Retention(InlineBroker.DEFAULT_MAX_LENGTH, Duration.ZERO),
                dev.courier.spi.MaintenancePolicy.DEFAULT, clock, 20);
        assertEquals(1, small.publishAll("s", List.of(Map.of("text", "123456789"))).size(), "exactly 20 bytes");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> small.publish("s", Map.of("text", "1234567890")));
        assertEquals("message is 21 bytes of JSON, more than brokers.test.max-message-size (20 bytes); nothing was "
                + "sent", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> small.publishAll("s", List.of(Map.of("a", 1), Map.of("text", "é€é€é€é€é"), Map.of("b", 2))));
        assertEquals("message 2 of 3 is 33 bytes of JSON, more than brokers.test.max-message-size (20 bytes); "
                + "nothing was sent", e.getMessage());
        assertEquals(1L, small.healthStats().messageCounts().total(), "only the first publish was sent");
    }
}
