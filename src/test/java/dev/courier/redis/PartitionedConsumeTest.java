package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.Message;
import dev.courier.Partitions;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;

import static dev.courier.testing.Replies.list;
import static dev.courier.testing.Replies.text;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Consuming a partitioned stream with several broker instances in one JVM, each as an instance of the group: a key's
 * messages in order through retries, balance after a join, poison under halt and under dead-letter.
 */
@WithRedis
class PartitionedConsumeTest {

    private static RedisServer redis;
    private final List<Broker> brokers = new CopyOnWriteArrayList<>();
    private final List<Thread> consumers = new ArrayList<>();
    private final AtomicBoolean stop = new AtomicBoolean();
    private String category;
    private String group;

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @BeforeEach
    void names() {
        String id = UUID.randomUUID().toString().substring(0, 8);
        category = "orders-" + id;
        group = "order-handler-" + id;
    }

    @AfterEach
    void close() throws InterruptedException {
        stop.set(true);
        for (Thread t : consumers) {
            t.join(10_000);
        }
        brokers.forEach(Broker::close);
    }

    private RedisBroker broker(String consumer, int maxRetries, Map<String, String> more) {
        Map<String, String> options = new HashMap<>(Map.of("partition-key." + category, "k",
                "partition-lease-ttl", "1", "consumer-name", consumer));
        options.putAll(more);
        RedisBroker broker = (RedisBroker) new RedisBrokerProvider().create(consumer, RedisBrokerContractTest
                .settings(redis.uri(), new RetryPolicy(maxRetries, Duration.ofMillis(20), 1.0,
                        Duration.ofSeconds(30), true), options));
        brokers.add(broker);
        return broker;
    }

    /** A consumer thread: handles what {@code fails} does not reject, in read order. */
    private void consume(Broker broker, Predicate<Message> fails, Map<String, List<Integer>> handled) {
        Thread t = new Thread(() -> {
            while (!stop.get()) {
                for (Message m : broker.read(category, group, 50, Duration.ofMillis(100))) {
                    if (fails.test(m)) {
                        broker.nack(category, m.id(), group);
                    } else {
                        record(handled, m);
                        broker.ack(category, m.id(), group);
                    }
                }
            }
        }, "consumer-" + broker.name());
        t.setDaemon(true);
        t.start();
        consumers.add(t);
    }

    /** {@code perKey} messages for each of {@code keys} keys, numbered per key, in publishing order. */
    private static List<Map<String, Object>> backlog(int keys, int perKey) {
        List<Map<String, Object>> batch = new ArrayList<>();
        for (int n = 0; n < perKey; n++) {
            for (int k = 0; k < keys; k++) {
                batch.add(Map.of("k", "key-" + k, "n", n));
            }
        }
        return batch;
    }

    /** Notes a message handled, under its key, by its number. */
    private static void record(Map<String, List<Integer>> handled, Message m) {
        handled.computeIfAbsent((String) m.payload().get("k"), k -> new CopyOnWriteArrayList<>())
                .add(((Number) m.payload().get("n")).intValue());
    }

    /** Each key's messages handled in order, none lost, none twice. */
    private static void assertEachKeyInOrder(Map<String, List<Integer>> handled, int keys, int perKey) {
        List<Integer> inOrder = java.util.stream.IntStream.range(0, perKey).boxed().toList();
        for (int k = 0; k < keys; k++) {
            assertEquals(inOrder, handled.get("key-" + k), "key-" + k + ": in order, none lost, none twice");
        }
    }

    private static int total(Map<String, List<Integer>> handled) {
        return handled.values().stream().mapToInt(List::size).sum();
    }

    @Test
    void three_instances_handle_each_keys_messages_in_order_through_transient_failures_and_lose_none() {
        int keys = 200;
        int perKey = 15;
        RedisBroker publisher = broker("publisher", 10, Map.of());
        Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
        Predicate<Message> flaky = m -> ThreadLocalRandom.current().nextInt(100) < 5;
        for (int i = 0; i < 3; i++) {
            consume(broker("c" + i, 10, Map.of()), flaky, handled);
        }
        for (int n = 0; n < perKey; n++) {
            List<Map<String, Object>> batch = new ArrayList<>();
            for (int k = 0; k < keys; k++) {
                batch.add(Map.of("k", "key-" + k, "n", n));
            }
            publisher.publishAll(category, batch);
        }
        await().atMost(Duration.ofSeconds(90)).until(() -> total(handled) >= keys * perKey);
        assertEachKeyInOrder(handled, keys, perKey);
        for (int k = 0; k < keys; k += 37) {
            assertEquals(0L, ((List<?>) redis.command("XPENDING", category + ":key-" + k, group)).get(0));
        }
    }

    @Test
    void three_instances_share_three_thousand_keys_and_handle_every_message() {
        RedisBroker publisher = broker("publisher", 3, Map.of());
        List<Map<String, Object>> batch = new ArrayList<>();
        for (int k = 0; k < 3000; k++) {
            batch.add(Map.of("k", "key-" + k, "n", 0));
        }
        publisher.publishAll(category, batch);
        Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
        List<RedisBroker> instances = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            RedisBroker b = broker("i" + i, 3, Map.of("partition-lease-ttl", "15"));
            instances.add(b);
            consume(b, m -> false, handled);
        }
        long t = System.nanoTime();
        await().atMost(Duration.ofSeconds(60)).until(() -> total(handled) == 3000);
        System.out.println("3000 keys handled in " + (System.nanoTime() - t) / 1_000_000 + " ms; owned "
                + instances.stream().map(this::owned).toList());
    }

    @Test
    void a_cold_key_is_reaped_by_its_owner_only_once_every_group_has_finished_it() {
        RedisBroker broker = broker("r", 3, Map.of("partition-reap-idle", "1"));
        Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
        consume(broker, m -> false, handled);
        String stream = category + ":a";
        broker.publish(category, Map.of("k", "a", "n", 0));
        await().atMost(Duration.ofSeconds(10)).until(() -> handled.containsKey("a"));
        // A Protean group that read the entry and did not acknowledge it, and a Courier group known for the
        // stream that has no group on it yet: either keeps the stream.
        redis.command("XGROUP", "CREATE", stream, "protean.Handler", "0");
        redis.command("XREADGROUP", "GROUP", "protean.Handler", "w", "STREAMS", stream, ">");
        redis.command("SADD", category + ":__groups__", "late-group");
        long until = System.nanoTime() + Duration.ofSeconds(3).toNanos();
        while (System.nanoTime() < until) {
            assertEquals(1L, redis.command("EXISTS", stream), "reaped while a group had not finished it");
        }
        String entry = text(list(list(redis.command("XRANGE", stream, "-", "+")).get(0)).get(0));
        redis.command("XACK", stream, "protean.Handler", entry);
        until = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        while (System.nanoTime() < until) {
            assertEquals(1L, redis.command("EXISTS", stream), "reaped before the known Courier group had a group");
        }
        redis.command("XGROUP", "CREATE", stream, "late-group", "$");
        await().atMost(Duration.ofSeconds(10)).until(() -> (Long) redis.command("EXISTS", stream) == 0);
        assertEquals(0L, redis.command("SISMEMBER", category + ":__partitions__", "a"));
        assertEquals(0L, redis.command("EXISTS", group + ":a:__lease__"));
        assertEquals("1", text(redis.command("GET", group + ":a:__generation__")), "the generation stays");
        await().atMost(Duration.ofSeconds(5)).until(() -> !broker.partitionedGroup(category, group).ownedKeys()
                .contains("a"));

        // Published to again, the key comes back and is handled.
        broker.publish(category, Map.of("k", "a", "n", 1));
        await().atMost(Duration.ofSeconds(10)).until(() -> handled.get("a").size() == 2);
        assertEquals(List.of(0, 1), handled.get("a"));
    }



    @Test
    void a_new_instance_gets_a_fair_share_of_existing_keys_within_a_few_heartbeats() {
        RedisBroker publisher = broker("publisher", 3, Map.of());
        for (int k = 0; k < 300; k++) {
            publisher.publish(category, Map.of("k", "key-" + k, "n", 0));
        }
        Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
        RedisBroker a = broker("a", 3, Map.of());
        RedisBroker b = broker("b", 3, Map.of());
        consume(a, m -> false, handled);
        consume(b, m -> false, handled);
        await().atMost(Duration.ofSeconds(30)).until(() -> total(handled) == 300);
        await().atMost(Duration.ofSeconds(30)).until(() -> owned(a) + owned(b) == 300
                && Math.abs(owned(a) - owned(b)) <= 30);

        RedisBroker c = broker("c", 3, Map.of());
        consume(c, m -> false, handled);
        await().atMost(Duration.ofSeconds(30)).until(() -> List.of(a, b, c).stream()
                .allMatch(x -> owned(x) >= 80 && owned(x) <= 120) && owned(a) + owned(b) + owned(c) == 300);
        // The released keys are handled by their new owners, in order.
        for (int k = 0; k < 300; k++) {
            publisher.publish(category, Map.of("k", "key-" + k, "n", 1));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> total(handled) == 600);
        handled.forEach((key, ns) -> assertEquals(List.of(0, 1), ns, key));
    }

    private int owned(RedisBroker broker) {
        PartitionedGroup g = broker.partitionedGroup(category, group);
        return g == null ? 0 : g.ownedKeys().size();
    }

    /**
     * The acks a loop hands in with its reads may be held back while it has buffered messages to hand out, but are
     * sent at the latest at the next heartbeat (a fifth of the lease TTL) if the loop stops reading (and before the
     * reader would wait); an explicit ack is sent at once.
     */
    @Test
    void acks_handed_in_with_reads_are_sent_at_the_latest_at_the_next_heartbeat() {
        RedisBroker broker = broker("d", 3, Map.of());
        broker.read(category, group, 1); // the group reads: its keys are taken as they come
        for (String key : List.of("a", "b", "c")) {
            broker.publish(category, Map.of("k", key, "n", 0));
            broker.publish(category, Map.of("k", key, "n", 1));
        }
        List<Message> first = new ArrayList<>();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            first.addAll(broker.read(category, group, 2 - first.size()));
            return first.size() == 2;
        });
        Message done = first.get(0);
        // Handed in with a read that hands out another key's message; then the loop reads no more.
        assertEquals(1, broker.read(category, group, 1, Duration.ZERO, List.of(done.id())).size());
        await().atMost(Duration.ofSeconds(5)).until(() -> pending(done.stream()) == 1); // its key's second one
        Message other = first.get(1);
        assertEquals(2, pending(other.stream()));
        assertTrue(broker.ack(category, other.id(), group), "an explicit ack is sent at once");
        assertEquals(1, pending(other.stream()));
    }

    private long pending(String stream) {
        return ((Number) list(redis.command("XPENDING", stream, group)).get(0)).longValue();
    }

    /**
     * Health's halted_keys counts this instance's halts; group_halted_keys the group's in every instance (the shared
     * records whose lease holds), so that any instance's health shows a halt, and it goes when the halt ends.
     */
    @Test
    void health_counts_the_group_s_halted_keys_of_every_instance() {
        RedisBroker a = broker("a", 1, Map.of("partition-poison." + group, "halt"));
        RedisBroker b = broker("b", 1, Map.of("partition-poison." + group, "halt"));
        Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
        consume(a, m -> m.payload().containsKey("poison"), handled);
        consume(b, m -> m.payload().containsKey("poison"), handled);
        a.publish(category, Map.of("k", "p", "n", 0, "poison", true));

        await().atMost(Duration.ofSeconds(20)).until(() -> Long.valueOf(1).equals(
                a.healthStats().details().get("group_halted_keys"))
                && Long.valueOf(1).equals(b.healthStats().details().get("group_halted_keys")));
        long here = (Long) a.healthStats().details().get("halted_keys")
                + (Long) b.healthStats().details().get("halted_keys");
        assertEquals(1L, here, "one instance holds the halt");
        RedisBroker owner = (Long) a.healthStats().details().get("halted_keys") == 1L ? a : b;
        RedisBroker other = owner == a ? b : a;
        assertEquals(0L, other.healthStats().details().get("halted_keys"));
        assertTrue(other.skip(category, group, "p"), "asked of the owner");
        await().atMost(Duration.ofSeconds(20)).until(() -> Long.valueOf(0).equals(
                owner.healthStats().details().get("group_halted_keys"))
                && Long.valueOf(0).equals(other.healthStats().details().get("group_halted_keys")));
    }

    @Test
    void under_halt_a_poison_message_stops_its_key_until_an_operator_skips_it() {
        RedisBroker broker = broker("h", 1, Map.of("partition-poison." + group, "halt"));
        RedisBroker operator = broker("operator", 1, Map.of("partition-poison." + group, "halt"));
        Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
        consume(broker, m -> m.payload().containsKey("poison"), handled);
        broker.publish(category, Map.of("k", "a", "n", 0, "poison", true));
        broker.publish(category, Map.of("k", "a", "n", 1));
        broker.publish(category, Map.of("k", "b", "n", 0));

        await().atMost(Duration.ofSeconds(20)).until(() -> !broker.halted(category, group).isEmpty()
                && handled.containsKey("b") && !operator.halted(category, group).isEmpty());
        Partitions.HaltedKey halted = broker.halted(category, group).get(0);
        assertEquals("a", halted.key());
        assertEquals(2, halted.attempts(), "max-retries 1: two attempts");
        assertTrue(halted.messageId().startsWith("a:"), halted.messageId());
        assertTrue(!handled.containsKey("a"), "the key's later message waits behind its head");
        assertTrue(broker.partitionedGroup(category, group).ownedKeys().contains("a"), "the key stays owned");
        List<Object> pending = list(redis.command("XPENDING", category + ":a", group, "-", "+", "10"));
        assertEquals(halted.messageId().substring(2), text(list(pending.get(0)).get(0)), "the head stays pending");

        // An instance that does not consume the stream sees the halt (from Redis) and takes no key by asking.
        assertEquals(List.of(halted), operator.halted(category, group));
        assertEquals(null, operator.partitionedGroup(category, group));
        assertTrue(broker.skip(category, group, "a"));
        await().atMost(Duration.ofSeconds(20)).until(() -> handled.containsKey("a"));
        assertEquals(List.of(1), handled.get("a"));
        assertEquals(List.of(), broker.halted(category, group));
        assertEquals(0L, broker.deadLetterDepth(category + ":a"), "skipped, not dead-lettered");
    }

    @Test
    void under_halt_an_operator_can_dead_letter_or_retry_the_head() {
        RedisBroker broker = broker("h", 0, Map.of("partition-poison." + group, "halt"));
        Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
        AtomicBoolean healed = new AtomicBoolean();
        consume(broker, m -> m.payload().containsKey("poison") && !healed.get(), handled);
        broker.publish(category, Map.of("k", "a", "n", 0, "poison", true));
        broker.publish(category, Map.of("k", "b", "n", 0, "poison", true));
        broker.publish(category, Map.of("k", "a", "n", 1));
        broker.publish(category, Map.of("k", "b", "n", 1));
        await().atMost(Duration.ofSeconds(20)).until(() -> broker.halted(category, group).size() == 2);

        assertTrue(broker.deadLetter(category, group, "a"));
        await().atMost(Duration.ofSeconds(20)).until(() -> handled.containsKey("a"));
        assertEquals(List.of(1), handled.get("a"));
        assertEquals(1L, broker.deadLetterDepth(category + ":a"));

        healed.set(true);
        assertTrue(broker.retry(category, group, "b"));
        await().atMost(Duration.ofSeconds(20)).until(() -> handled.getOrDefault("b", List.of()).size() == 2);
        assertEquals(List.of(0, 1), handled.get("b"));
    }

    @Test
    void by_default_a_poison_message_is_dead_lettered_and_its_key_goes_on_in_order() {
        RedisBroker broker = broker("d", 2, Map.of());
        Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
        Map<Integer, Integer> attempts = new ConcurrentHashMap<>();
        consume(broker, m -> {
            int n = ((Number) m.payload().get("n")).intValue();
            int attempt = attempts.merge(n, 1, Integer::sum);
            assertEquals(attempt, m.deliveryCount());
            return m.payload().containsKey("poison") || (n == 2 && attempt == 1);
        }, handled);
        broker.publish(category, Map.of("k", "a", "n", 0));
        broker.publish(category, Map.of("k", "a", "n", 1, "poison", true));
        broker.publish(category, Map.of("k", "a", "n", 2));
        broker.publish(category, Map.of("k", "a", "n", 3));
        await().atMost(Duration.ofSeconds(20)).until(() -> handled.getOrDefault("a", List.of()).size() == 3);
        assertEquals(List.of(0, 2, 3), handled.get("a"));
        assertEquals(3, attempts.get(1), "max-retries 2: three attempts");
        assertEquals(2, attempts.get(2), "a transient failure is retried before the next message");
        assertEquals(1L, broker.deadLetterDepth(category + ":a"));
        assertEquals(1, ((Number) broker.deadLetters(category + ":a", 10).get(0).message().payload().get("n")).intValue());
        assertEquals(List.of(), broker.halted(category, group));
    }

    @Test
    void under_a_backlog_every_owned_key_is_handed_out_within_a_few_reads_one_at_a_time() {
        everyKeyProgresses(false);
    }

    @Test
    void under_a_backlog_every_owned_key_is_handed_out_within_a_few_reads_several_at_a_time() {
        everyKeyProgresses(true);
    }

    /**
     * 40 keys of 20 messages each, read 8 at a time and acked at once: whatever the hand-out mode, each key gets a
     * message within 3 x 40 / 8 + 2 reads of its last one (round-robin), not only the keys acquired first.
     */
    private void everyKeyProgresses(boolean several) {
        int keys = 40;
        int max = 8;
        RedisBroker broker = broker("c0", 3, Map.of());
        broker.publishAll(category, backlog(keys, 20));
        if (several) {
            assertTrue(broker.keepsOrderPerStream(category, group));
        }
        List<Message> first = readSome(broker);
        await().atMost(Duration.ofSeconds(10)).until(() -> broker.partitionedGroup(category, group).ownedKeys()
                .size() == keys);
        Map<String, Integer> lastRead = new HashMap<>();
        List<String> acks = first.stream().map(Message::id).toList();
        int handled = first.size();
        // plus the two turns that a key held by the read ahead may lose to the keys handed out meanwhile
        int bound = 3 * keys / max + 2;
        for (int reads = 1; handled < keys * 20 && reads < 1000; reads++) {
            broker.ackAll(category, acks, group);
            List<Message> got = broker.read(category, group, max, Duration.ofMillis(100));
            for (Message m : got) {
                String key = (String) m.payload().get("k");
                Integer before = lastRead.put(key, reads);
                assertTrue(reads - (before == null ? 0 : before) <= bound, key + " handed out at read " + reads
                        + ", before at " + before);
            }
            handled += got.size();
            acks = got.stream().map(Message::id).toList();
        }
        assertEquals(keys, lastRead.size(), "every key handed out");
    }

    /**
     * A backlog over many keys, read as the engine does, with the acks handed in with the reads: the next keys are
     * read ahead on the group's reads thread and the acks sent in batches on its acks thread, while each key's
     * messages still come in order, once each; closing the broker acknowledges what was handled and ends both
     * threads.
     */
    @Test
    void a_backlog_is_read_ahead_and_acked_on_the_group_s_threads_in_order_and_they_end_with_the_broker() {
        int keys = 300;
        int perKey = 40;
        RedisBroker broker = broker("ahead-" + category, 3, Map.of());
        // As the engine's loops ask (a key's messages kept in order through retries): several of a key at once, so
        // that the acks handed in add up to batches
        broker.publishAll(category, backlog(keys, perKey));
        assertTrue(broker.keepsOrderPerStream(category, group));
        Map<String, List<Integer>> handled = new HashMap<>();
        Set<String> threads = new java.util.HashSet<>();
        List<String> acks = List.of();
        int total = 0;
        for (int reads = 0; total < keys * perKey && reads < 10_000; reads++) {
            List<Message> got = broker.read(category, group, 100, Duration.ofMillis(100), acks);
            for (Message m : got) {
                record(handled, m);
            }
            total += got.size();
            acks = got.stream().map(Message::id).toList();
            threads.addAll(groupThreads(broker));
        }
        assertEachKeyInOrder(handled, keys, perKey);
        assertTrue(threads.contains("courier-reads-" + broker.name() + "-" + group), "read ahead: " + threads);
        assertTrue(threads.contains("courier-acks-" + broker.name() + "-" + group), "acks sent apart: " + threads);
        broker.ackAll(category, acks, group);
        broker.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> groupThreads(broker).isEmpty());
        for (int k = 0; k < keys; k++) {
            assertEquals(0L, pending(category + ":key-" + k), "key-" + k + ": every handled message acknowledged");
        }
    }

    /**
     * Fenced reads that fail for a while (here Redis refuses XREADGROUP to the broker's user) lose no key and no
     * message: reads in between still hand out what is buffered, and once reads work again every key's messages come
     * in order, once each.
     */
    @Test
    void fenced_reads_that_fail_for_a_while_lose_no_key_and_keep_each_key_s_order() {
        String user = "flaky-" + group;
        redis.command("ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "+@all");
        RedisBroker broker = (RedisBroker) new RedisBrokerProvider().create("flaky", RedisBrokerContractTest.settings(
                redis.uri(user, "pw"), new RetryPolicy(3, Duration.ofMillis(20), 1.0, Duration.ofSeconds(30), true),
                Map.of("partition-key." + category, "k", "partition-lease-ttl", "2")));
        brokers.add(broker);
        int keys = 100;
        int perKey = 30;
        broker.publishAll(category, backlog(keys, perKey));
        assertTrue(broker.keepsOrderPerStream(category, group));
        Map<String, List<Integer>> handled = new HashMap<>();
        List<String> acks = new ArrayList<>();
        int failed = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        for (int reads = 0; total(handled) < keys * perKey && System.nanoTime() < deadline; reads++) {
            if (reads == 20) {
                redis.command("ACL", "SETUSER", user, "-xreadgroup");
            } else if (reads == 40) {
                redis.command("ACL", "SETUSER", user, "+xreadgroup");
            }
            List<Message> got;
            try {
                got = broker.read(category, group, 50, Duration.ofMillis(50), List.copyOf(acks));
                acks.clear();
            } catch (RuntimeException e) {
                failed++;
                continue; // the acks handed in were taken (held back) or come again with the next read
            }
            for (Message m : got) {
                record(handled, m);
                acks.add(m.id());
            }
        }
        assertTrue(failed > 0, "reads failed while Redis refused XREADGROUP");
        assertEachKeyInOrder(handled, keys, perKey);
    }

    /** The names of the live threads of the broker's partitioned groups that read ahead and send acks. */
    private static Set<String> groupThreads(RedisBroker broker) {
        Set<String> names = new java.util.HashSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            String name = t.getName();
            if (t.isAlive() && (name.startsWith("courier-reads-" + broker.name() + "-")
                    || name.startsWith("courier-acks-" + broker.name() + "-"))) {
                names.add(name);
            }
        }
        return names;
    }

    private List<Message> readSome(RedisBroker broker) {
        return await().atMost(Duration.ofSeconds(10)).until(() -> broker.read(category, group, 50,
                Duration.ofMillis(100)), batch -> !batch.isEmpty());
    }

    private static List<Integer> numbers(List<Message> messages) {
        return messages.stream().map(m -> ((Number) m.payload().get("n")).intValue()).toList();
    }

    @Test
    void a_loop_that_keeps_order_is_given_a_keys_messages_together_and_acks_them_in_one_fenced_xack() {
        RedisBroker broker = broker("c0", 3, Map.of());
        for (int n = 0; n < 5; n++) {
            broker.publish(category, Map.of("k", "a", "n", n));
        }
        assertTrue(broker.keepsOrderPerStream(category, group));
        List<Message> batch = readSome(broker);
        assertEquals(List.of(0, 1, 2, 3, 4), numbers(batch), "the key's buffered messages at once, in order");

        // The head fails: it alone comes again, the others being out with the loop behind it.
        assertTrue(broker.nack(category, batch.get(0).id(), group));
        List<Message> again = readSome(broker);
        assertEquals(List.of(0), numbers(again));
        assertEquals(2, again.get(0).deliveryCount());

        redis.command("CONFIG", "RESETSTAT");
        assertEquals(5, broker.ackAll(category, batch.stream().map(Message::id).toList(), group));
        assertTrue(text(redis.command("INFO", "commandstats")).contains("cmdstat_xack:calls=1,"),
                "one XACK for the key's five ids");
        assertEquals(0L, ((Number) list(redis.command("XPENDING", category + ":a", group)).get(0)).longValue());
    }

    @Test
    void no_handler_starts_on_a_message_handed_out_with_others_once_its_keys_lease_moved() {
        RedisBroker broker = broker("c0", 3, Map.of());
        for (int n = 0; n < 3; n++) {
            broker.publish(category, Map.of("k", "a", "n", n));
        }
        broker.keepsOrderPerStream(category, group);
        List<Message> batch = readSome(broker);
        assertEquals(3, batch.size());
        assertTrue(broker.mayStart(category, group, batch.get(0)));

        // Another owner has the lease now (as after a stall past the TTL): the next renewal fails.
        redis.command("SET", PartitionLeases.lease(group, "a"), "other-owner:99", "PX", "60000");
        await().atMost(Duration.ofSeconds(5)).until(() -> !broker.mayStart(category, group, batch.get(1)));
        assertTrue(!broker.mayStart(category, group, batch.get(2)));
        assertEquals(0, broker.ackAll(category, List.of(batch.get(0).id()), group), "fenced");
    }

    @Test
    void where_an_acl_refuses_watch_the_fenced_read_goes_through_the_script() {
        redis.command("ACL", "SETUSER", "no-watch-" + group, "on", ">pw", "~*", "&*", "+@all", "-watch");
        RedisBroker broker = (RedisBroker) new RedisBrokerProvider().create("acl", RedisBrokerContractTest.settings(
                redis.uri("no-watch-" + group, "pw"), new RetryPolicy(3, Duration.ofMillis(20), 1.0,
                        Duration.ofSeconds(30), true), Map.of("partition-key." + category, "k",
                        "partition-lease-ttl", "1")));
        brokers.add(broker);
        for (int n = 0; n < 3; n++) {
            broker.publish(category, Map.of("k", "a", "n", n));
        }
        broker.keepsOrderPerStream(category, group);
        List<Message> batch = readSome(broker);
        assertEquals(List.of(0, 1, 2), numbers(batch));
        assertEquals(3, broker.ackAll(category, batch.stream().map(Message::id).toList(), group));
    }

    /** Each broker's handled messages, to tell which instance handled a key. */
    private Map<String, List<Integer>> consumeApart(RedisBroker broker, Predicate<Message> fails) {
        Map<String, List<Integer>> handled = new ConcurrentHashMap<>();
        consume(broker, fails, handled);
        return handled;
    }

    @Test
    void an_operator_on_another_instance_lists_skips_dead_letters_and_retries_a_halted_key_which_goes_on_in_order() {
        RedisBroker a = broker("a", 0, Map.of("partition-poison." + group, "halt"));
        RedisBroker b = broker("b", 0, Map.of("partition-poison." + group, "halt"));
        AtomicBoolean healed = new AtomicBoolean();
        Predicate<Message> poison = m -> m.payload().containsKey("poison") && !healed.get();
        Map<RedisBroker, Map<String, List<Integer>>> handled = Map.of(a, consumeApart(a, poison),
                b, consumeApart(b, poison));
        await().atMost(Duration.ofSeconds(20)).until(() -> List.of(a, b).stream().allMatch(x ->
                x.partitionedGroup(category, group) != null && x.partitionedGroup(category, group).liveOwners() == 2));
        for (String key : List.of("s", "d", "r")) {
            a.publish(category, Map.of("k", key, "n", 0, "poison", true));
        }
        for (int n = 1; n <= 2; n++) {
            for (String key : List.of("s", "d", "r")) {
                a.publish(category, Map.of("k", key, "n", n));
            }
        }
        // Every halt is listed by both instances, from the records its owner keeps in Redis.
        await().atMost(Duration.ofSeconds(20)).until(() -> a.halted(category, group).size() == 3
                && b.halted(category, group).size() == 3);
        assertEquals(Set.copyOf(a.halted(category, group)), Set.copyOf(b.halted(category, group)));
        Map<String, RedisBroker> owners = new HashMap<>();
        for (String key : List.of("s", "d", "r")) {
            owners.put(key, a.partitionedGroup(category, group).ownedKeys().contains(key) ? a : b);
        }
        RedisBroker other = owners.get("s") == a ? b : a;
        assertTrue(!other.partitionedGroup(category, group).ownedKeys().contains("s"));

        // Each asked of the instance that does not own the key; its owner carries it out, and the key goes on there.
        assertTrue(operatorOf(owners, "s", a, b).skip(category, group, "s"));
        assertTrue(operatorOf(owners, "d", a, b).deadLetter(category, group, "d"));
        await().atMost(Duration.ofSeconds(20)).until(() -> handled.get(owners.get("s")).containsKey("s")
                && handled.get(owners.get("d")).getOrDefault("d", List.of()).size() == 2);
        healed.set(true);
        assertTrue(operatorOf(owners, "r", a, b).retry(category, group, "r"));
        await().atMost(Duration.ofSeconds(20)).until(() -> handled.get(owners.get("r")).getOrDefault("r", List.of())
                .size() == 3);
        await().atMost(Duration.ofSeconds(20)).until(() -> handled.get(owners.get("s")).get("s").size() == 2);

        assertEquals(List.of(1, 2), handled.get(owners.get("s")).get("s"));
        assertEquals(List.of(1, 2), handled.get(owners.get("d")).get("d"));
        assertEquals(List.of(0, 1, 2), handled.get(owners.get("r")).get("r"));
        for (String key : List.of("s", "d", "r")) {
            assertTrue(!handled.get(operatorOf(owners, key, a, b)).containsKey(key), "handled by its owner only");
        }
        assertEquals(0L, a.deadLetterDepth(category + ":s"), "skipped, not dead-lettered");
        assertEquals(1L, a.deadLetterDepth(category + ":d"));
        assertEquals(List.of(), b.halted(category, group));
        assertEquals(0L, redis.command("EXISTS", SharedHalts.hash(group)), "the records go when the halts end");
        assertTrue(!operatorOf(owners, "s", a, b).skip(category, group, "s"), "not halted");
    }

    private static RedisBroker operatorOf(Map<String, RedisBroker> owners, String key, RedisBroker a, RedisBroker b) {
        return owners.get(key) == a ? b : a;
    }

    @Test
    void proteans_manual_way_still_unwedges_a_halted_key_and_its_record_is_dropped() {
        RedisBroker broker = broker("h", 0, Map.of("partition-poison." + group, "halt"));
        Map<String, List<Integer>> handled = consumeApart(broker, m -> m.payload().containsKey("poison"));
        broker.publish(category, Map.of("k", "a", "n", 0, "poison", true));
        broker.publish(category, Map.of("k", "a", "n", 1));
        await().atMost(Duration.ofSeconds(20)).until(() -> redis.command("HGET", SharedHalts.hash(group), "a")
                != null);
        String head = broker.halted(category, group).get(0).messageId().substring(2);

        redis.command("XACK", category + ":a", group, head);
        redis.command("DEL", PartitionLeases.lease(group, "a"));
        await().atMost(Duration.ofSeconds(20)).until(() -> handled.containsKey("a"));
        assertEquals(List.of(1), handled.get("a"));
        assertEquals(List.of(), broker.halted(category, group));
        assertEquals(0L, redis.command("EXISTS", SharedHalts.hash(group)), "the stale record is removed");
    }

    @Test
    void a_protean_owner_in_the_group_counts_in_the_fair_share() throws InterruptedException {
        String owner = "ProteanHandler-host-1-abcdef";
        RedisBroker publisher = broker("publisher", 3, Map.of());
        for (int k = 0; k < 10; k++) {
            publisher.publish(category, Map.of("k", "key-" + k, "n", 0));
        }
        // A Protean owner by its rules (renew what it holds, then acquire every free key), with its own connection.
        Map<String, String> held = new ConcurrentHashMap<>();
        AtomicBoolean acquiring = new AtomicBoolean(true);
        Thread protean = new Thread(() -> {
            try (redis.clients.jedis.Jedis j = new redis.clients.jedis.Jedis(redis.host(), redis.port())) {
                while (!stop.get()) {
                    held.entrySet().removeIf(e -> ((Number) j.eval(PROTEAN_RENEW, 1,
                            PartitionLeases.lease(group, e.getKey()), e.getValue(), "1000")).longValue() == 0);
                    if (acquiring.get()) {
                        for (String key : j.smembers(PartitionedStreams.index(category))) {
                            if (!held.containsKey(key)) {
                                Object g = j.eval(PartitionLeasesTest.PROTEAN_ACQUIRE, 2,
                                        PartitionLeases.lease(group, key), PartitionLeases.generation(group, key),
                                        owner, "1000");
                                if (g != null) {
                                    held.put(key, owner + ":" + g);
                                }
                            }
                        }
                    }
                    Thread.sleep(200); // its heartbeat cadence, as Protean passes: not a wait for a condition
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "protean-owner");
        protean.setDaemon(true);
        protean.start();
        consumers.add(protean);
        await().atMost(Duration.ofSeconds(10)).until(() -> held.size() == 10);

        // Its pass does not see the next keys yet: the Courier instance could take them all, but, the Protean owner
        // being seen in the leases, it takes its share, ceil(100 / 2), and leaves the rest free.
        acquiring.set(false);
        RedisBroker courier = broker("c", 3, Map.of());
        Map<String, List<Integer>> handled = consumeApart(courier, m -> false);
        for (int k = 10; k < 100; k++) {
            publisher.publish(category, Map.of("k", "key-" + k, "n", 0));
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> total(handled) >= 50);
        await().atMost(Duration.ofSeconds(20)).until(() -> courier.partitionedGroup(category, group).liveOwners()
                == 2 && owned(courier) == 50);
        acquiring.set(true);
        await().atMost(Duration.ofSeconds(30)).until(() -> held.size() == 50);
        assertEquals(50, owned(courier));
        assertEquals(2, courier.partitionedGroup(category, group).liveOwners());
    }

    private static final String PROTEAN_RENEW = """
            if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
            return 0
            """;
}
