package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.testing.Deployment;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import jakarta.enterprise.context.ApplicationScoped;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Entries written by someone else that would hold a loop: a number with a million digits, and data larger than
 * {@code max-message-size}. The loop sets each aside and handles the next good message at once, on a real Redis.
 */
@WithRedis
class HostileEntryTest {

    static final Duration WAIT = Duration.ofSeconds(10);
    /** A message of 1,000,006 bytes, under the default max-message-size (1 MiB): it is parsed, and refused. */
    static final String MILLION_DIGITS = "{\"n\":" + "7".repeat(1_000_000) + "}";
    /** A message of 2 MB, over the default max-message-size: it is set aside unparsed. */
    static final String TWO_MEGABYTES = "{\"text\":\"" + "x".repeat(2_000_000) + "\"}";

    /** When each good message (by its n) was handled. */
    static final Map<Integer, Long> HANDLED = new ConcurrentHashMap<>();

    @ApplicationScoped
    static class Orders {
        void take(@Subscribe(stream = "orders", broker = "orders") Message message) {
            HANDLED.putIfAbsent((Integer) message.payload().get("n"), System.nanoTime());
        }
    }

    @ApplicationScoped
    static class Notes {
        void take(@Subscribe(stream = "notes", broker = "notes") Message message) {
            HANDLED.putIfAbsent((Integer) message.payload().get("n"), System.nanoTime());
        }
    }

    static Deployment deploy(RedisServer redis) {
        HANDLED.clear();
        redis.command("FLUSHDB");
        return Deployment.of(Deployment.inline(
                "brokers.orders.provider", "redis", "brokers.orders.uri", redis.uri(),
                "brokers.notes.provider", "redis_pubsub", "brokers.notes.uri", redis.uri()),
                Orders.class, Notes.class);
    }

    /** Writes the hostile text and then a good message; how long after the good one's write it was handled (ms). */
    static long handledAfter(RedisServer redis, String... hostileThenGood) {
        int n = HANDLED.size() + 100;
        for (String command : hostileThenGood) {
            write(redis, command, n);
        }
        long written = System.nanoTime();
        await().atMost(WAIT).until(() -> HANDLED.containsKey(n));
        return (HANDLED.get(n) - written) / 1_000_000;
    }

    private static void write(RedisServer redis, String what, int n) {
        String[] parts = what.split(" ", 3);
        String text = switch (parts[2]) {
            case "million-digits" -> MILLION_DIGITS;
            case "two-megabytes" -> TWO_MEGABYTES;
            default -> "{\"n\":" + n + "}";
        };
        if (parts[0].equals("XADD")) {
            redis.command("XADD", parts[1], "*", "data", text);
        } else {
            redis.command("RPUSH", parts[1], "[\"item-" + System.nanoTime() + "\"," + text + "]");
        }
    }

    @Test
    void on_redis_the_next_good_message_is_handled_within_100_ms_of_a_hostile_entry(RedisServer redis) {
        try (Deployment app = deploy(redis)) {
            Broker orders = app.broker("orders");
            orders.publish("orders", Map.of("n", 0)); // the loop is running and warm
            await().atMost(WAIT).until(() -> HANDLED.containsKey(0));

            // Once each first: the first time, the code that sets a megabyte aside runs cold (interpreted).
            long coldDigits = handledAfter(redis, "XADD orders million-digits", "XADD orders good");
            long coldLarge = handledAfter(redis, "XADD orders two-megabytes", "XADD orders good");
            long afterDigits = handledAfter(redis, "XADD orders million-digits", "XADD orders good");
            long afterLarge = handledAfter(redis, "XADD orders two-megabytes", "XADD orders good");
            System.out.printf("redis: next message handled %d ms after a million-digit number, %d ms after 2 MB "
                    + "(the first time: %d ms, %d ms)%n", afterDigits, afterLarge, coldDigits, coldLarge);
            assertTrue(afterDigits < 100, "after a million-digit number: " + afterDigits + " ms");
            assertTrue(afterLarge < 100, "after a 2 MB entry: " + afterLarge + " ms");

            await().atMost(WAIT).until(() -> orders.deadLetterDepth("orders") == 4);
            List<DeadLetter> letters = orders.deadLetters("orders", 10);
            assertEquals(Set.of(DeadLetter.MALFORMED, DeadLetter.TOO_LARGE),
                    letters.stream().map(DeadLetter::reason).collect(Collectors.toSet()));
        }
    }

    @Test
    void on_redis_pubsub_the_next_good_message_is_handled_within_100_ms_of_a_hostile_item(RedisServer redis) {
        try (Deployment app = deploy(redis)) {
            Broker notes = app.broker("notes");
            notes.publish("notes", Map.of("n", 0));
            await().atMost(WAIT).until(() -> HANDLED.containsKey(0));

            long coldDigits = handledAfter(redis, "RPUSH notes million-digits", "RPUSH notes good");
            long coldLarge = handledAfter(redis, "RPUSH notes two-megabytes", "RPUSH notes good");
            long afterDigits = handledAfter(redis, "RPUSH notes million-digits", "RPUSH notes good");
            long afterLarge = handledAfter(redis, "RPUSH notes two-megabytes", "RPUSH notes good");
            System.out.printf("redis_pubsub: next message handled %d ms after a million-digit number, %d ms after "
                    + "2 MB (the first time: %d ms, %d ms)%n", afterDigits, afterLarge, coldDigits, coldLarge);
            assertTrue(afterDigits < 100, "after a million-digit number: " + afterDigits + " ms");
            assertTrue(afterLarge < 100, "after a 2 MB item: " + afterLarge + " ms");
            assertEquals(4L, notes.healthStats().details().get("malformed_skipped"), "all counted as skipped");
        }
    }
}
