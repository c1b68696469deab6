package dev.courier.inline;

import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.MaintenancePolicy;
import dev.courier.spi.Retention;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.ManualClock;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the inline broker keeps in the heap: bounded by max-length and retention, never an unacknowledged message. */
class InlineRetentionTest {

    static final Duration DELAY = Duration.ofSeconds(1);
    static final RetryPolicy POLICY = new RetryPolicy(3, DELAY, 2.0, Duration.ofSeconds(300), true);

    final ManualClock clock = new ManualClock();

    InlineBroker broker(long maxLength, Duration retention) {
        return new InlineBroker("test", POLICY, new Retention(maxLength, retention), MaintenancePolicy.DEFAULT, clock);
    }

    static Map<String, Object> event(int n) {
        return Map.of("event_type", "thing.happened", "n", n);
    }

    @SuppressWarnings("unchecked")
    static long length(InlineBroker broker, String stream) {
        Map<String, Object> streams = (Map<String, Object>) broker.info().get("streams");
        return ((Number) ((Map<String, Object>) streams.get(stream)).get("length")).longValue();
    }

    static void consume(InlineBroker broker, String stream, String group) {
        List<Message> batch;
        while (!(batch = broker.read(stream, group, 50)).isEmpty()) {
            broker.ackAll(stream, batch.stream().map(Message::id).toList(), group);
        }
    }

    @Test
    void the_retained_count_stays_bounded_while_two_groups_consume_everything() {
        InlineBroker broker = broker(100, Duration.ZERO);
        long longest = 0;
        for (int round = 0; round < 400; round++) {
            for (int i = 0; i < 50; i++) {
                broker.publish("s", event(round * 50 + i));
            }
            longest = Math.max(longest, length(broker, "s"));
            consume(broker, "s", "a");
            consume(broker, "s", "b");
        }
        assertTrue(longest <= 150, "20,000 published, at most max-length + one round kept, but " + longest);
        broker.maintain();
        assertEquals(100, length(broker, "s"), "max-length of history kept for late groups");
        assertEquals(19_900L, broker.healthStats().details().get("dropped"));
    }

    @Test
    void what_a_known_group_has_not_read_is_kept_whatever_max_length_says() {
        InlineBroker broker = broker(10, Duration.ZERO);
        broker.read("s", "slow", 1); // known, reads nothing yet
        for (int i = 0; i < 1000; i++) {
            broker.publish("s", event(i));
        }
        consume(broker, "s", "fast");
        assertEquals(1000, length(broker, "s"));
        List<Message> first = broker.read("s", "slow", 1000);
        assertEquals(1000, first.size());
        assertEquals(0, first.get(0).payload().get("n"));
    }

    @Test
    void an_unacknowledged_message_is_never_dropped_with_the_log() {
        InlineBroker broker = broker(0, Duration.ZERO);
        assertTrue(broker.read("s", "g", 1).isEmpty(), "the group is known before anything is published");
        broker.publish("s", event(0));
        Message held = broker.read("s", "g", 1).get(0);
        broker.publish("s", event(1));
        Message rejected = broker.read("s", "g", 1).get(0);
        assertTrue(broker.nack("s", rejected.id(), "g"));
        for (int i = 2; i < 1000; i++) {
            broker.publish("s", event(i));
        }
        consume(broker, "s", "g");
        broker.maintain();
        assertEquals(0, length(broker, "s"), "max-length 0: no history");

        clock.advance(DELAY);
        Message again = broker.read("s", "g", 10).get(0);
        assertEquals(rejected.id(), again.id(), "the rejected message comes back after its delay");
        assertEquals(1, again.payload().get("n"));
        assertTrue(broker.ack("s", again.id(), "g"));
        assertTrue(broker.ack("s", held.id(), "g"), "the message held all along is still acknowledged");
    }

    @Test
    void a_group_created_later_starts_at_the_oldest_entry_kept() {
        InlineBroker broker = broker(100, Duration.ZERO);
        for (int i = 0; i < 500; i++) {
            broker.publish("s", event(i));
        }
        List<Message> late = broker.read("s", "late", 1000);
        assertEquals(100, late.size());
        assertEquals(400, late.get(0).payload().get("n"));
    }

    @Test
    void retention_drops_entries_every_group_passed_once_they_are_older_than_it() {
        InlineBroker broker = broker(1000, Duration.ofMinutes(1));
        for (int i = 0; i < 10; i++) {
            broker.publish("s", event(i));
        }
        consume(broker, "s", "a");
        broker.read("s", "b", 4); // b has read 4, acknowledged none
        clock.advance(Duration.ofMinutes(1));
        broker.maintain();
        assertEquals(10, length(broker, "s"), "exactly one minute old: kept");
        clock.advance(Duration.ofMillis(1));
        broker.maintain();
        assertEquals(6, length(broker, "s"), "older than a minute, and passed by both groups");
        List<Message> rest = broker.read("s", "b", 10);
        assertEquals(6, rest.size());
        assertEquals(4, rest.get(0).payload().get("n"));
    }

    @Test
    void trim_on_inline_removes_only_entries_every_group_has_passed() {
        InlineBroker broker = broker(1000, Duration.ZERO);
        for (int i = 0; i < 100; i++) {
            broker.publish("s", event(i));
        }
        broker.read("s", "g", 30);
        assertEquals(30, broker.trim("s", 10), "70 are unread");
        assertEquals(70, length(broker, "s"));
        assertEquals(0, broker.trim("s", 10));
    }

    @Test
    void dead_letters_older_than_the_retention_are_dropped_and_no_younger_one() {
        InlineBroker broker = new InlineBroker("test", new RetryPolicy(0, DELAY, 2.0, Duration.ofSeconds(300), true),
                new Retention(100, Duration.ZERO), MaintenancePolicy.DEFAULT, clock);
        deadLetter(broker, 0);
        clock.advance(Duration.ofDays(3));
        deadLetter(broker, 1);
        clock.advance(Duration.ofDays(4));
        assertEquals(Map.of("s", 2L), broker.maintain(), "the first is exactly 7 days old: kept");
        clock.advance(Duration.ofMillis(1));
        assertEquals(Map.of("s", 1L), broker.maintain());
        List<DeadLetter> left = broker.deadLetters("s", 10);
        assertEquals(1, left.get(0).message().payload().get("n"));
        assertEquals(1L, broker.healthStats().details().get("dead_letters_expired"));
    }

    static void deadLetter(InlineBroker broker, int n) {
        broker.publish("s", event(n));
        Message m = broker.read("s", "g", 1).get(0);
        assertTrue(broker.nack("s", m.id(), "g"));
    }

    @Test
    void the_provider_reads_the_retention_options_with_bounded_defaults() {
        InlineBroker defaults = (InlineBroker) new InlineBrokerProvider().create("d",
                new BrokerSettings("d", "inline", Map.of()));
        assertEquals(10_000L, defaults.healthStats().details().get("max_length"));
        assertEquals(Duration.ofDays(7), defaults.maintenancePolicy().deadLetterRetention());

        InlineBroker set = (InlineBroker) new InlineBrokerProvider().create("d", new BrokerSettings("d", "inline",
                Map.of("max-length", "5", "retention", "PT1H", "dead-letter-retention", "3600",
                        "dead-letter-alert-depth", "100, orders=10")));
        assertEquals(5L, set.healthStats().details().get("max_length"));
        assertEquals(3_600_000L, set.healthStats().details().get("retention_ms"));
        assertEquals(Duration.ofHours(1), set.maintenancePolicy().deadLetterRetention());
        assertEquals(10, set.maintenancePolicy().alertDepth("orders"));
        assertEquals(100, set.maintenancePolicy().alertDepth("payments"));
        assertTrue(new InlineBrokerProvider().options().containsAll(List.of("max-length", "retention",
                "dead-letter-retention", "dead-letter-alert-depth", "maintenance-interval")));
    }
}
