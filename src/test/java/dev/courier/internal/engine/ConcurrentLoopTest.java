package dev.courier.internal.engine;

import dev.courier.engine.EngineMode;
import dev.courier.engine.LoopStatus;
import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.inline.InlineBrokerProvider;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.StreamEntryID;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Loops with workers, on inline and on a real redis-server: order per key through retries, the window, the stop. */
@WithRedis
class ConcurrentLoopTest {

    static final String GROUP = "concurrent";
    static final Map<String, String> QUICK_RETRIES = Map.of("retry-delay", "0.01", "backoff-multiplier", "1");

    static Broker inline() {
        return new InlineBrokerProvider().create("default", new BrokerSettings("default", "inline", QUICK_RETRIES,
                "test-consumer"));
    }

    static Broker redis(RedisServer server, String consumer) {
        Map<String, String> options = new HashMap<>(QUICK_RETRIES);
        options.put("uri", server.uri());
        return new RedisBrokerProvider().create("default", new BrokerSettings("default", "redis", options, consumer));
    }

    static CourierEngine engine(Broker broker, String stream, Concurrency concurrency, Duration shutdownTimeout,
                                Subscription.Invoker handler) {
        EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, 10, Duration.ofMillis(200),
                shutdownTimeout, "test-consumer");
        return CourierEngine.create(settings, new Brokers(Map.of("default", broker)), List.of(new Subscription(
                "default", stream, GROUP, "", Message.class, "ConcurrentLoopTest.handle(Message)", handler,
                CircuitBreakerSettings.OFF, concurrency)));
    }

    @Test
    void inline_keeps_the_order_of_each_key_through_retries() throws Exception {
        try (Broker broker = inline()) {
            keyOrderThroughRetries(broker);
        }
    }

    @Test
    void redis_keeps_the_order_of_each_key_through_retries(RedisServer server) throws Exception {
        try (Broker broker = redis(server, "test-consumer")) {
            keyOrderThroughRetries(broker);
        }
    }

    /**
     * A partitioned stream under Ordering.NONE: the broker hands out several messages of a partition at once, and the
     * loop keeps them in order by their stream (the partition's) through retries.
     */
    @Test
    void redis_partitioned_keeps_the_order_of_each_key_through_retries_with_several_handed_out(RedisServer server)
            throws Exception {
        try (Broker broker = redis(server, "test-consumer")) {
            keyOrderThroughRetries(broker, Subscribe.Ordering.NONE, true);
        }
    }

    /**
     * Two loops of one partitioned group on one broker (two engines here; one subscriber with workers, one without)
     * would split a key's messages between them: the second start fails naming the stream and the group, and the
     * group can be consumed again once the first loop stopped. A plain stream's group takes both.
     */
    @Test
    void a_partitioned_group_is_consumed_by_one_loop_of_a_broker(RedisServer server) {
        try (Broker broker = redis(server, "test-consumer")) {
            String stream = "orders-" + System.nanoTime();
            broker.partitionBy(stream, "order_id");
            CourierEngine first = engine(broker, stream, new Concurrency(4, Subscribe.Ordering.NONE, "", 0),
                    Duration.ofSeconds(5), argument -> { });
            CourierEngine second = engine(broker, stream, Concurrency.SEQUENTIAL, Duration.ofSeconds(5),
                    argument -> { });
            first.start();
            try {
                IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                        second::start);
                assertTrue(e.getMessage().contains("stream '" + stream + "'")
                        && e.getMessage().contains("group '" + GROUP + "'"), e.getMessage());
            } finally {
                first.stop();
            }
            second.start();
            second.stop();

            String plain = "plain-" + System.nanoTime();
            CourierEngine one = engine(broker, plain, Concurrency.SEQUENTIAL, Duration.ofSeconds(5), argument -> { });
            CourierEngine other = engine(broker, plain, Concurrency.SEQUENTIAL, Duration.ofSeconds(5),
                    argument -> { });
            one.start();
            other.start();
            other.stop();
            one.stop();
        }
    }

    private static void keyOrderThroughRetries(Broker broker) throws Exception {
        keyOrderThroughRetries(broker, Subscribe.Ordering.KEY, false);
    }

    /**
     * 20,000 messages over 500 keys, 16 workers, random handler delays; every 20th message fails once, every 40th
     * twice, before it succeeds. Each attempt must be of its key's earliest message not yet handled.
     */
    private static void keyOrderThroughRetries(Broker broker, Subscribe.Ordering ordering, boolean partitioned)
            throws Exception {
        int n = 20_000;
        int keys = 500;
        String stream = "orders-" + System.nanoTime();
        if (partitioned) {
            broker.partitionBy(stream, "order_id");
        }
        broker.read(stream, GROUP, 1); // the group exists before the messages
        List<Map<String, Object>> messages = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            messages.add(Map.of("order_id", "order-" + (i % keys), "seq", i));
        }
        for (int i = 0; i < n; i += 1000) {
            broker.publishAll(stream, messages.subList(i, i + 1000));
        }
        Map<String, Integer> nextSeq = new ConcurrentHashMap<>();
        Map<Integer, AtomicInteger> failures = new ConcurrentHashMap<>();
        Set<String> running = ConcurrentHashMap.newKeySet();
        List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
        LongAdder handled = new LongAdder();
        AtomicInteger concurrent = new AtomicInteger();
        AtomicInteger mostConcurrent = new AtomicInteger();
        CourierEngine engine = engine(broker, stream, new Concurrency(16, ordering, "order_id", 0),
                Duration.ofSeconds(5), argument -> {
                    Message m = (Message) argument;
                    String key = (String) m.payload().get("order_id");
                    int seq = ((Number) m.payload().get("seq")).intValue();
                    mostConcurrent.accumulateAndGet(concurrent.incrementAndGet(), Math::max);
                    try {
                        if (!running.add(key)) {
                            violations.add(key + ": two messages at once");
                        }
                        int expected = nextSeq.getOrDefault(key, seq % keys);
                        if (seq != expected) {
                            violations.add(key + ": message " + seq + " before " + expected);
                        }
                        if (ThreadLocalRandom.current().nextInt(4) == 0) {
                            TimeUnit.MICROSECONDS.sleep(ThreadLocalRandom.current().nextInt(500));
                        }
                        int failing = seq % 40 == 0 ? 2 : seq % 20 == 0 ? 1 : 0;
                        if (failures.computeIfAbsent(seq, s -> new AtomicInteger()).getAndIncrement() < failing) {
                            throw new IllegalStateException("failing " + seq);
                        }
                        nextSeq.put(key, seq + keys);
                        handled.increment();
                    } finally {
                        running.remove(key);
                        concurrent.decrementAndGet();
                    }
                });
        engine.start();
        try {
            await().atMost(Duration.ofSeconds(120)).until(() -> handled.sum() >= n);
        } finally {
            engine.stop();
        }
        assertEquals(List.of(), violations.subList(0, Math.min(10, violations.size())));
        assertEquals(n, handled.sum());
        for (int i = 0; i < keys; i++) {
            assertEquals(n + i, nextSeq.get("order-" + i), "every message of order-" + i + " handled");
        }
        assertEquals(3, failures.get(0).get(), "message 0 failed twice, then succeeded");
        assertTrue(mostConcurrent.get() > 1, "handlers ran at once: " + mostConcurrent.get());
    }

    @Test
    void a_dead_lettered_message_lets_its_key_go_on() throws Exception {
        try (Broker broker = new InlineBrokerProvider().create("default", new BrokerSettings("default", "inline",
                Map.of("retry-delay", "0.01", "max-retries", "1"), "test-consumer"))) {
            String stream = "poison-" + System.nanoTime();
            broker.read(stream, GROUP, 1);
            broker.publish(stream, Map.of("order_id", "a", "seq", 0, "poison", true));
            broker.publish(stream, Map.of("order_id", "a", "seq", 1));
            List<Integer> handled = new java.util.concurrent.CopyOnWriteArrayList<>();
            CourierEngine engine = engine(broker, stream, new Concurrency(4, Subscribe.Ordering.KEY, "order_id", 0),
                    Duration.ofSeconds(5), argument -> {
                        Map<String, Object> payload = ((Message) argument).payload();
                        if (Boolean.TRUE.equals(payload.get("poison"))) {
                            throw new IllegalStateException("never handled");
                        }
                        handled.add(((Number) payload.get("seq")).intValue());
                    });
            engine.start();
            try {
                // Not after the 60 s the loop would wait for a redelivery: the second rejection dead-letters it.
                await().atMost(Duration.ofSeconds(10)).until(() -> handled.equals(List.of(1)));
            } finally {
                engine.stop();
            }
            assertEquals(1, broker.deadLetterDepth(stream));
        }
    }

    /**
     * Quick handlers run in the loop's thread; then one turns slow: the ready messages of other keys are handled
     * meanwhile, the later one of its key waits (KEY order), and never more than the concurrency run at once. Once it
     * returned (slow by the loop's measure), quick ones run in workers for a while, so that the next one that blocks
     * holds up neither the reading nor other keys.
     */
    @Test
    void a_handler_that_turns_slow_holds_back_only_its_key() throws Exception {
        try (Broker broker = inline()) {
            String stream = "slow-" + System.nanoTime();
            broker.read(stream, GROUP, 1);
            Map<String, CountDownLatch> blocks = Map.of("first", new CountDownLatch(1), "second",
                    new CountDownLatch(1));
            List<String> handled = new java.util.concurrent.CopyOnWriteArrayList<>();
            Set<String> threads = ConcurrentHashMap.newKeySet();
            AtomicInteger concurrent = new AtomicInteger();
            AtomicInteger mostConcurrent = new AtomicInteger();
            CourierEngine engine = engine(broker, stream, new Concurrency(4, Subscribe.Ordering.KEY, "order_id", 0),
                    Duration.ofSeconds(5), argument -> {
                        Map<String, Object> payload = ((Message) argument).payload();
                        mostConcurrent.accumulateAndGet(concurrent.incrementAndGet(), Math::max);
                        try {
                            CountDownLatch block = blocks.get(String.valueOf(payload.get("block")));
                            if (block != null) {
                                block.await();
                                // and slow by the loop's measure, however soon it was let go
                                TimeUnit.NANOSECONDS.sleep(2 * InFlight.SLOW_NANOS);
                            }
                            threads.add(Thread.currentThread().getName());
                            handled.add(payload.get("order_id") + "/" + payload.get("seq"));
                        } finally {
                            concurrent.decrementAndGet();
                        }
                    });
            engine.start();
            try {
                // More than SLOW_MEMORY: the first calls may be slow (the JIT compiler, class loading).
                broker.publishAll(stream, quick("warm", 2 * InFlight.SLOW_MEMORY));
                await().atMost(Duration.ofSeconds(20)).until(() -> countStartingWith(handled, "warm") == 2
                        * InFlight.SLOW_MEMORY);
                assertTrue(threads.stream().anyMatch(t -> !t.contains("-worker-")),
                        "quick handlers ran in the loop's thread: " + threads);

                broker.publishAll(stream, slowOneAmongQuick("first", "a", "b", 8)); // one read (batch 10)
                await().atMost(Duration.ofSeconds(10)).until(() -> countStartingWith(handled, "b") == 8);
                assertTrue(!handled.contains("a/1"), "a/1 waits for a/0");
                blocks.get("first").countDown();
                await().atMost(Duration.ofSeconds(10)).until(() -> handled.contains("a/1"));
                assertTrue(handled.indexOf("a/0") < handled.indexOf("a/1"), handled.toString());

                broker.publishAll(stream, quick("again", 100)); // the handlers' average is quick again
                await().atMost(Duration.ofSeconds(10)).until(() -> countStartingWith(handled, "again") == 100);
                broker.publishAll(stream, slowOneAmongQuick("second", "c", "d", 30)); // four reads
                await().atMost(Duration.ofSeconds(10)).until(() -> countStartingWith(handled, "d") == 30);
                assertTrue(!handled.contains("c/1"), "c/1 waits for c/0");
                blocks.get("second").countDown();
                await().atMost(Duration.ofSeconds(10)).until(() -> handled.contains("c/1"));
                assertTrue(handled.indexOf("c/0") < handled.indexOf("c/1"), handled.toString());
            } finally {
                blocks.values().forEach(CountDownLatch::countDown);
                engine.stop();
            }
            assertTrue(mostConcurrent.get() <= 4, "never more than the concurrency at once: " + mostConcurrent);
        }
    }

    /**
     * Two workers; quick handlers run in the loop's thread, until one there blocks and a worker takes the next, which
     * blocks too: the rest wait for one of them, as the loop's thread counts among the concurrency.
     */
    @Test
    void the_loop_s_thread_counts_among_the_concurrency() throws Exception {
        try (Broker broker = inline()) {
            String stream = "bound-" + System.nanoTime();
            broker.read(stream, GROUP, 1);
            CountDownLatch release = new CountDownLatch(1);
            Set<String> handled = ConcurrentHashMap.newKeySet();
            AtomicInteger concurrent = new AtomicInteger();
            AtomicInteger mostConcurrent = new AtomicInteger();
            CourierEngine engine = engine(broker, stream, new Concurrency(2, Subscribe.Ordering.NONE, "", 0),
                    Duration.ofSeconds(5), argument -> {
                        Map<String, Object> payload = ((Message) argument).payload();
                        mostConcurrent.accumulateAndGet(concurrent.incrementAndGet(), Math::max);
                        try {
                            if (payload.containsKey("block")) {
                                release.await();
                            }
                            handled.add(payload.get("order_id") + "/" + payload.get("seq"));
                        } finally {
                            concurrent.decrementAndGet();
                        }
                    });
            engine.start();
            try {
                broker.publishAll(stream, quick("warm", 2 * InFlight.SLOW_MEMORY));
                await().atMost(Duration.ofSeconds(20)).until(() -> handled.size() == 2 * InFlight.SLOW_MEMORY);
                List<Map<String, Object>> batch = new ArrayList<>(slowOneAmongQuick("x", "x", "q", 8));
                batch.set(1, Map.of("order_id", "y", "seq", 0, "block", "y"));
                broker.publishAll(stream, batch);
                await().atMost(Duration.ofSeconds(10)).until(() -> concurrent.get() == 2);
                await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2))
                        .until(() -> handled.stream().noneMatch(h -> h.startsWith("q")));
                release.countDown();
                await().atMost(Duration.ofSeconds(10)).until(() -> handled.stream().filter(h -> h.startsWith("q"))
                        .count() == 8);
            } finally {
                release.countDown();
                engine.stop();
            }
            assertEquals(2, mostConcurrent.get(), "never more than the concurrency at once");
        }
    }

    private static List<Map<String, Object>> quick(String keys, int n) {
        List<Map<String, Object>> messages = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            messages.add(Map.of("order_id", keys + "-" + i % 20, "seq", i));
        }
        return messages;
    }

    /** A message of {@code key} that blocks on {@code block}, the next of its key, then quick ones of other keys. */
    private static List<Map<String, Object>> slowOneAmongQuick(String block, String key, String others, int n) {
        List<Map<String, Object>> messages = new ArrayList<>();
        messages.add(Map.of("order_id", key, "seq", 0, "block", block));
        messages.add(Map.of("order_id", key, "seq", 1));
        for (int i = 0; i < n; i++) {
            messages.add(Map.of("order_id", others + i, "seq", 0));
        }
        return messages;
    }

    private static long countStartingWith(List<String> handled, String prefix) {
        return handled.stream().filter(h -> h.startsWith(prefix)).count();
    }

    @Test
    void the_window_bounds_what_is_read_and_running_on_inline() throws Exception {
        try (Broker broker = inline()) {
            windowBounds(broker, "window-" + System.nanoTime());
        }
    }

    @Test
    void the_window_bounds_what_is_read_and_running(RedisServer server) throws Exception {
        String stream = "window-" + System.nanoTime();
        try (Broker broker = redis(server, "window-consumer");
             RedisClient client = RedisClient.create(URI.create(server.uri()))) {
            windowBounds(broker, stream);
            // Redis itself held as pending what the loop read: the window, no more (checked above through the
            // broker's info, XINFO GROUPS); and all of it is acknowledged now.
            assertEquals(0, client.xpending(stream, GROUP).getTotal());
        }
    }

    /**
     * 40 messages, 4 workers, a window of 6: while the handlers are held, 4 run, 6 are read and pending, no more; and
     * at every handling, until all 40 are done, the loop holds at most 6 and the broker has at most 6 pending.
     */
    private static void windowBounds(Broker broker, String stream) throws Exception {
        broker.read(stream, GROUP, 1);
        for (int i = 0; i < 40; i++) {
            broker.publish(stream, Map.of("seq", i));
        }
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger concurrent = new AtomicInteger();
        AtomicInteger mostConcurrent = new AtomicInteger();
        java.util.concurrent.atomic.AtomicLong mostHeld = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicReference<CourierEngine> started =
                new java.util.concurrent.atomic.AtomicReference<>();
        java.util.function.LongSupplier pending = () -> {
            Long p = Backlog.of(broker).group(stream, GROUP).pending();
            return p == null ? -1 : p;
        };
        LongAdder handled = new LongAdder();
        CourierEngine engine = engine(broker, stream, new Concurrency(4, Subscribe.Ordering.NONE, "", 6),
                Duration.ofSeconds(5), argument -> {
                    mostConcurrent.accumulateAndGet(concurrent.incrementAndGet(), Math::max);
                    try {
                        release.await();
                        mostHeld.accumulateAndGet(started.get().status().loops().get(0).inFlight(), Math::max);
                        mostHeld.accumulateAndGet(pending.getAsLong(), Math::max);
                        handled.increment();
                    } finally {
                        concurrent.decrementAndGet();
                    }
                });
        started.set(engine);
        engine.start();
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> concurrent.get() == 4
                    && engine.status().loops().get(0).inFlight() == 6);
            LoopStatus loop = engine.status().loops().get(0);
            assertEquals(4, loop.busyWorkers());
            assertEquals(6, pending.getAsLong(), "the broker holds as pending what the loop read: the window");
            release.countDown();
            await().atMost(Duration.ofSeconds(10)).until(() -> handled.sum() == 40);
            await().atMost(Duration.ofSeconds(5)).until(() -> pending.getAsLong() == 0);
        } finally {
            release.countDown();
            engine.stop();
        }
        assertEquals(4, mostConcurrent.get(), "never more than the concurrency at once");
        assertTrue(mostHeld.get() <= 6 && mostHeld.get() > 0, "never more held or pending than the window: "
                + mostHeld.get());
    }

    @Test
    void a_stop_acknowledges_what_finished_and_leaves_the_rest_pending(RedisServer server) throws Exception {
        String stream = "stop-" + System.nanoTime();
        Stopped stopped;
        try (RedisClient client = RedisClient.create(URI.create(server.uri()))) {
            try (Broker broker = redis(server, "stopping-consumer")) {
                stopped = stopWithSixteenRunning(broker, stream, () -> client.xpending(stream, GROUP).getTotal(),
                        () -> client.xrange(stream, (StreamEntryID) null,
                                client.xinfoGroups(stream).get(0).getLastDeliveredId()).size());
            }
            // The consumer starts again under its name: Redis gives it what it held, at its first read.
            Set<Integer> again = ConcurrentHashMap.newKeySet();
            try (Broker broker = redis(server, "stopping-consumer")) {
                CourierEngine engine = engine(broker, stream, new Concurrency(16, Subscribe.Ordering.NONE, "", 0),
                        Duration.ofSeconds(2), argument -> again.add(seq(argument)));
                engine.start();
                try {
                    await().atMost(Duration.ofSeconds(20)).until(() -> again.size() == 40 - 8);
                } finally {
                    engine.stop();
                }
            }
            Set<Integer> expected = new HashSet<>();
            for (int i = 0; i < 40; i++) {
                if (!stopped.finished().contains(i)) {
                    expected.add(i);
                }
            }
            assertEquals(expected, again, "everything but the finished ones came again");
        }
    }

    @Test
    void a_stop_on_inline_acknowledges_what_finished_and_leaves_the_rest_held() throws Exception {
        Map<String, String> options = new HashMap<>(QUICK_RETRIES);
        options.put("message-timeout", "5"); // past the stop (its shutdown timeout is 2 s)
        try (Broker broker = new InlineBrokerProvider().create("default", new BrokerSettings("default", "inline",
                options, "test-consumer"))) {
            String stream = "stop-" + System.nanoTime();
            java.util.function.LongSupplier pending = () -> {
                Long p = Backlog.of(broker).group(stream, GROUP).pending();
                return p == null ? -1 : p;
            };
            Stopped stopped = stopWithSixteenRunning(broker, stream, pending, null);
            // Inline keeps what was held, unacknowledged, until message-timeout, then dead-letters it (its rule for
            // a message held too long); the next engine gets what the stopped one had not read.
            Set<Integer> again = ConcurrentHashMap.newKeySet();
            CourierEngine engine = engine(broker, stream, new Concurrency(16, Subscribe.Ordering.NONE, "", 0),
                    Duration.ofSeconds(2), argument -> again.add(seq(argument)));
            engine.start();
            try {
                await().atMost(Duration.ofSeconds(20)).until(() -> again.size() == 40 - stopped.read()
                        && broker.deadLetterDepth(stream) == stopped.read() - 8);
            } finally {
                engine.stop();
            }
            Set<Integer> unread = new HashSet<>();
            for (int i = stopped.read(); i < 40; i++) {
                unread.add(i);
            }
            assertEquals(unread, again, "what was not read came to the next engine, nothing twice");
            assertEquals(0, pending.getAsLong());
        }
    }

    /** What {@link #stopWithSixteenRunning} left: how many messages the loop held, which handlers finished. */
    private record Stopped(int read, Set<Integer> finished) {
    }

    /**
     * 40 messages, 16 workers, a window of 24, a shutdown timeout of 2 s: the even ones finish during the stop, the
     * odd ones outlive it. The finished ones are acknowledged; the rest of what was read (running or waiting for a
     * worker, or read ahead beside them: {@code delivered}, the entries the group gave out, where the broker reads
     * ahead; {@code null} where it does not) stays unacknowledged.
     */
    private static Stopped stopWithSixteenRunning(Broker broker, String stream, java.util.function.LongSupplier pending,
                                                  java.util.function.LongSupplier delivered) throws Exception {
        Set<Integer> firstRun = ConcurrentHashMap.newKeySet();
        Set<Integer> finished = ConcurrentHashMap.newKeySet();
        CountDownLatch quickOnes = new CountDownLatch(1);
        broker.read(stream, GROUP, 1);
        for (int i = 0; i < 40; i++) {
            broker.publish(stream, Map.of("seq", i));
        }
        CourierEngine engine = engine(broker, stream, new Concurrency(16, Subscribe.Ordering.NONE, "", 24),
                Duration.ofSeconds(2), argument -> {
                    int seq = seq(argument);
                    firstRun.add(seq);
                    if (seq % 2 == 0) {
                        quickOnes.await();
                    } else {
                        new CountDownLatch(1).await(); // never counted down: until the stop interrupts it
                    }
                    finished.add(seq);
                });
        engine.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> firstRun.size() == 16);
        // Read and held: the 16 running and those waiting for a worker, as many as the window had room for.
        int read = engine.status().loops().get(0).inFlight();
        assertTrue(read > 16 && read <= 24, "held " + read);
        if (delivered == null) {
            assertEquals(read, pending.getAsLong());
        }
        Thread stopper = new Thread(engine::stop);
        stopper.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> engine.status().loops().get(0).state()
                != LoopStatus.State.RUNNING || !engine.status().started());
        quickOnes.countDown();
        stopper.join(10_000);
        assertTrue(!stopper.isAlive(), "the stop returned");
        assertEquals(8, finished.size(), "the even ones finished: " + finished);
        // What finished is acknowledged; the rest of what was read (running, waiting or read ahead) is pending, and
        // what was read ahead stayed within the window.
        long given = delivered == null ? read : delivered.getAsLong();
        assertTrue(given >= read && given <= 24, "given out " + given + ", held " + read);
        assertEquals(given - 8, pending.getAsLong());
        return new Stopped(read, Set.copyOf(finished));
    }

    private static int seq(Object message) {
        return ((Number) ((Message) message).payload().get("seq")).intValue();
    }

    @Test
    void configuration_is_validated_naming_the_key() {
        List<String> problems = new ArrayList<>();
        Map<String, String> values = new LinkedHashMap<>();
        values.put("engine.concurrency", "0");
        values.put("subscribers.com.acme.Orders.concurrency", "many");
        values.put("subscribers.com.acme.Orders.ordering", "random");
        values.put("subscribers.com.acme.Orders.colour", "red");
        values.put("subscribers.other.max-in-flight", "8");
        EngineSettings settings = EngineSettings.from(values, e -> problems.add(e.getMessage()));
        assertEquals(4, problems.size(), problems.toString());
        assertTrue(problems.get(0).startsWith("courier.engine.concurrency"), problems.get(0));
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("courier.subscribers.com.acme.Orders.concurrency")));
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("courier.subscribers.com.acme.Orders.ordering")
                && p.contains("stream, key or none")));
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("courier.subscribers.com.acme.Orders.colour")));
        assertEquals(8, settings.subscriber("other").maxInFlight());
        Concurrency resolved = Concurrency.DEFAULT.resolve(settings.subscriber("other"), 4, 10);
        assertEquals(new Concurrency(4, Subscribe.Ordering.KEY, "", 8), resolved);
        assertEquals(new Concurrency(4, Subscribe.Ordering.KEY, "", 20),
                Concurrency.DEFAULT.resolve(settings.subscriber("x"), 4, 10), "four per worker, two batches");
        assertEquals(1, new Concurrency(8, Subscribe.Ordering.STREAM, "", 0)
                .resolve(settings.subscriber("x"), 1, 10).workers(), "STREAM forces one worker");
    }
}
