package dev.courier.bench;

import dev.courier.engine.EngineMode;
import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.internal.engine.CircuitBreakerSettings;
import dev.courier.internal.engine.Concurrency;
import dev.courier.internal.engine.CourierEngine;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.internal.engine.Subscription;
import dev.courier.inline.InlineBrokerProvider;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.internal.JsonCodec;
import org.springframework.data.redis.stream.StreamMessageListenerContainer;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.ConnectionPoolConfig;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XAddParams;
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.resps.StreamEntry;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Courier against the raw Jedis client and against Spring Data Redis, on one redis-server that the harness starts,
 * printed as one Markdown table. {@code mvn -B -q -Pbench}; {@code -Dbench.scale=0.2} for a quick, rough run.
 *
 * <p>Throughput rows run {@value #ROUNDS} rounds, a Courier round right after its raw counterpart's, and report
 * each side's median, so that noise from other processes falls on both sides alike.
 */
public final class Bench {

    static final int ROUNDS = 5;
    static final int BATCH = 100;
    static final int THREADS = 16;
    static final String GROUP = "bench-group";
    static final String CONSUMER = "bench-consumer";
    static final String BODY = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.";
    /** The message every throughput row sends: about 130 bytes of JSON. */
    static final Map<String, Object> PAYLOAD = payload();
    static final String JSON = JsonCodec.write(PAYLOAD);
    static final Map<String, String> FIELDS = Map.of("data", JSON);
    static final XAddParams XADD = XAddParams.xAddParams();

    private static double scale;
    private static RedisProcess redis;
    static RedisClient raw;
    private static final List<String[]> rows = new ArrayList<>();
    private static final AtomicInteger streams = new AtomicInteger();

    private Bench() {
    }

    private static Map<String, Object> payload() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("event_type", "order.placed");
        p.put("order_id", 1234567);
        p.put("amount", 99.5);
        p.put("note", BODY);
        return Collections.unmodifiableMap(p);
    }

    static double scale() {
        return scale;
    }

    static int n(int full) {
        return Math.max(BATCH * THREADS, (int) Math.round(full * scale / (BATCH * THREADS)) * BATCH * THREADS);
    }

    /** Kept, so that the level set on it stays: the engine's start and stop lines would clutter the output. */
    private static final java.util.logging.Logger COURIER_LOG = java.util.logging.Logger.getLogger("dev.courier");

    public static void main(String[] args) throws Exception {
        COURIER_LOG.setLevel(java.util.logging.Level.WARNING);
        scale = Double.parseDouble(System.getProperty("bench.scale", "1"));
        long began = System.nanoTime();
        redis = RedisProcess.start();
        try {
            raw = rawClient();
            run();
        } finally {
            if (raw != null) {
                raw.close();
            }
            redis.close();
        }
        System.out.printf(Locale.ROOT, "%nWhole run: %.0f s%n", (System.nanoTime() - began) / 1e9);
        System.exit(0);
    }

    /** The raw client, with Courier's default connection settings (pool of 8, 2 s timeouts). */
    private static RedisClient rawClient() {
        ConnectionPoolConfig pool = new ConnectionPoolConfig();
        pool.setMaxTotal(8);
        pool.setMaxIdle(8);
        pool.setMinIdle(0);
        pool.setJmxEnabled(false);
        return RedisClient.builder().hostAndPort(RedisProcess.HOST, redis.port())
                .clientConfig(DefaultJedisClientConfig.builder().connectionTimeoutMillis(2000)
                        .socketTimeoutMillis(2000).clientName("bench-raw").build())
                .poolConfig(pool).build();
    }

    static Broker redisBroker() {
        return new RedisBrokerProvider().create("default", new BrokerSettings("default", "redis",
                Map.of("uri", redis.uri()), CONSUMER));
    }

    /** A redis broker with more options, under its own consumer name (an instance of its own). */
    static Broker redisBroker(Map<String, String> more, String consumer) {
        Map<String, String> options = new LinkedHashMap<>(more);
        options.put("uri", redis.uri());
        return new RedisBrokerProvider().create("default", new BrokerSettings("default", "redis", options, consumer));
    }

    private static Broker inlineBroker() {
        return new InlineBrokerProvider().create("default", new BrokerSettings("default", "inline", Map.of(),
                CONSUMER));
    }

    static String stream(String what) {
        return "bench-" + what + "-" + streams.incrementAndGet();
    }

    private static void run() throws Exception {
        System.out.printf(Locale.ROOT, "Courier benchmark: %d cores, %s %s, Java %s, Redis %s (port %d), scale %s%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"),
                System.getProperty("os.arch"), System.getProperty("java.version"), redis.version(), redis.port(),
                scale);
        Broker courier = redisBroker();
        Peer peer = new Peer(RedisProcess.HOST, redis.port());
        try {
            // -Dbench.only=publishing,consuming,readahead,concurrency,latency,inline,codec,heap,soak,telemetry,cluster runs some
            // sections only (while profiling).
            String only = System.getProperty("bench.only", "");
            java.util.function.Predicate<String> on = section -> only.isBlank() || only.contains(section);
            if (!only.equals("server")) {
                warmUp(courier, peer, on);
            }
            if (on.test("publishing")) {
                publishing(courier, peer);
            }
            if (on.test("consuming")) {
                consuming(peer);
            }
            if (on.test("readahead")) {
                readAhead();
            }
            if (on.test("concurrency")) {
                concurrency();
            }
            if (on.test("latency")) {
                latency(peer);
            }
            if (on.test("inline")) {
                inline();
            }
            if (on.test("codec")) {
                CodecBench.run(courier);
            }
            if (on.test("heap")) {
                heap();
            }
            if (on.test("soak")) {
                soak();
            }
            if (on.test("telemetry")) {
                TelemetryBench.run();
            }
            if (on.test("partitioned")) {
                PartitionBench.run();
            }
            if (on.test("cluster")) {
                ClusterBench.run(redis.uri());
            }
            if (only.contains("server")) { // only when asked for: it needs the servers (-Pbench,bench-server)
                ServerBench.run(redis);
            }
        } finally {
            peer.close();
            courier.close();
        }
        print();
    }

    // Warm-up: every path a few times, so that the measured rounds run compiled code.

    private static void warmUp(Broker courier, Peer peer, java.util.function.Predicate<String> on) throws Exception {
        long start = System.nanoTime();
        for (int i = 0; i < 2; i++) {
            if (on.test("publishing")) {
                rawXadd(5_000);
                publishOne(courier, 5_000);
                rawPipelined(50_000);
                publishAll(courier, 50_000);
                publishThreads(THREADS * 500, s -> courier.publish(s, PAYLOAD));
                peerPublish(peer, 2_000);
            }
            rawConsume(50_000);
            engineConsume(50_000);
        }
        if (on.test("consuming")) {
            peerConsume(peer, 10_000);
        }
        if (on.test("inline")) {
            inlineThroughput(200_000);
        }
        progress("warm-up", start);
    }

    // Publishing

    private static void publishing(Broker courier, Peer peer) throws Exception {
        long start = System.nanoTime();
        int one = n(20_000);
        double[][] single = rounds(() -> rawXadd(one), () -> publishOne(courier, one));
        double peerOne = peerPublish(peer, n(10_000));
        int many = n(300_000);
        double[][] batched = rounds(() -> rawPipelined(many), () -> publishAll(courier, many));
        int threaded = n(100_000);
        double[][] threads = rounds(() -> publishThreads(threaded, s -> raw.xadd(s, XADD, FIELDS)),
                () -> publishThreads(threaded, s -> courier.publish(s, PAYLOAD)));
        double peerThreads = publishThreads(n(50_000), s -> peer.publish(s, PAYLOAD));

        double rawOne = median(single[0]);
        double rawPipe = median(batched[0]);
        row("raw Jedis XADD, one at a time", rate(rawOne), "", "", "");
        row("raw Jedis XADD, pipelined x" + BATCH, rate(rawPipe), "", "", "");
        row("raw Jedis XADD, " + THREADS + " threads (reference)", rate(median(threads[0])), "", "", "");
        ratioRow("Courier publish, 1 thread", median(single[1]), rawOne, "raw XADD one at a time", 0.9);
        ratioRow("Courier publish, " + THREADS + " threads", median(threads[1]), rawPipe, "raw XADD pipelined", 0.5);
        ratioRow("Courier publishAll x" + BATCH, median(batched[1]), rawPipe, "raw XADD pipelined", 0.8);
        ratioRow("peer (Spring Data Redis) publish, 1 thread", peerOne, rawOne, "raw XADD one at a time", 0);
        ratioRow("peer publish, " + THREADS + " threads", peerThreads, rawPipe, "raw XADD pipelined", 0);
        progress("publishing", start);
    }

    private static double rawXadd(int n) {
        String s = stream("raw-xadd");
        long t = System.nanoTime();
        for (int i = 0; i < n; i++) {
            raw.xadd(s, XADD, FIELDS);
        }
        return done(s, n, t);
    }

    private static double publishOne(Broker courier, int n) {
        String s = stream("publish");
        long t = System.nanoTime();
        for (int i = 0; i < n; i++) {
            courier.publish(s, PAYLOAD);
        }
        return done(s, n, t);
    }

    private static double peerPublish(Peer peer, int n) {
        String s = stream("peer-publish");
        long t = System.nanoTime();
        for (int i = 0; i < n; i++) {
            peer.publish(s, PAYLOAD);
        }
        return done(s, n, t);
    }

    static double rawPipelined(int n) {
        String s = stream("raw-pipelined");
        long t = System.nanoTime();
        fill(s, n);
        return done(s, n, t);
    }

    /** Adds n messages with pipelined XADDs of {@value #BATCH}. */
    private static void fill(String s, int n) {
        for (int sent = 0; sent < n; sent += BATCH) {
            try (AbstractPipeline p = raw.pipelined()) {
                for (int i = 0; i < BATCH; i++) {
                    p.xadd(s, XADD, FIELDS);
                }
                p.sync();
            }
        }
    }

    static double publishAll(Broker courier, int n) {
        String s = stream("publish-all");
        List<Map<String, Object>> batch = Collections.nCopies(BATCH, PAYLOAD);
        long t = System.nanoTime();
        for (int sent = 0; sent < n; sent += BATCH) {
            courier.publishAll(s, batch);
        }
        return done(s, n, t);
    }

    private static double publishThreads(int n, java.util.function.Consumer<String> publish) throws Exception {
        String s = stream("threads");
        List<Measure> tasks = new ArrayList<>();
        for (int i = 0; i < THREADS; i++) {
            tasks.add(() -> {
                for (int j = 0; j < n / THREADS; j++) {
                    publish.accept(s);
                }
                return 0;
            });
        }
        long t = concurrently(tasks, "publishing");
        return done(s, n, t);
    }

    /** Runs each task on a thread of its own, all released at once, until all end; when they were released. */
    static long concurrently(List<Measure> tasks, String what) throws InterruptedException {
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        AtomicInteger errors = new AtomicInteger();
        for (Measure task : tasks) {
            Thread thread = new Thread(() -> {
                try {
                    go.await();
                    task.run();
                } catch (Exception e) {
                    errors.incrementAndGet();
                    e.printStackTrace();
                }
            });
            thread.start();
            threads.add(thread);
        }
        long t = System.nanoTime();
        go.countDown();
        for (Thread thread : threads) {
            thread.join();
        }
        if (errors.get() > 0) {
            throw new IllegalStateException(errors + " " + what + " threads failed");
        }
        return t;
    }

    /** Checks that the stream holds n entries, deletes it, and gives n per second since t. */
    static double done(String s, int n, long t) {
        double seconds = (System.nanoTime() - t) / 1e9;
        long length = raw.xlen(s);
        if (length != n) {
            throw new IllegalStateException(s + " holds " + length + " entries, not " + n);
        }
        raw.del(s);
        return n / seconds;
    }

    // Consuming

    private static void consuming(Peer peer) throws Exception {
        long start = System.nanoTime();
        int n = n(200_000);
        double[][] consume = rounds(() -> rawConsume(n), () -> engineConsume(n));
        double rawRate = median(consume[0]);
        double peerRate = peerConsume(peer, n(50_000));
        row("raw Jedis XREADGROUP COUNT " + BATCH + " + one XACK per batch", rate(rawRate), "", "", "");
        ratioRow("Courier engine, no-op handler, " + n + " messages (batch " + BATCH + ")", median(consume[1]),
                rawRate, "raw batch consume", 1.2);
        ratioRow("peer StreamMessageListenerContainer, manual ack (batch " + BATCH + ")", peerRate, rawRate,
                "raw batch consume", 0);
        progress("consuming", start);
    }

    /**
     * The sequential loop with and without its read ahead, in alternating rounds: max-in-flight at the batch size
     * leaves the window no room for one. Both sides are Courier's, so the ratio is the read ahead's own.
     */
    private static void readAhead() throws Exception {
        long start = System.nanoTime();
        int n = n(200_000);
        Concurrency noRoom = new Concurrency(1, dev.courier.Subscribe.Ordering.STREAM, "", BATCH);
        double[][] r = rounds(() -> engineConsume(n, BATCH, noRoom, "no read ahead"), () -> engineConsume(n, BATCH,
                Concurrency.SEQUENTIAL, "reading ahead"));
        double without = median(r[0]);
        row("Courier engine, no-op handler, no read ahead (max-in-flight " + BATCH + ")", rate(without), "", "", "");
        ratioRow("Courier engine, no-op handler, reading ahead (default max-in-flight " + 2 * BATCH + ")",
                median(r[1]), without, "no read ahead", 0);
        progress("readahead", start);
    }

    static String backlog(int n) {
        String s = stream("consume");
        fill(s, n);
        raw.xgroupCreate(s, GROUP, new StreamEntryID(), false);
        return s;
    }

    static double rawConsume(int n) {
        return rawConsume(n, BATCH);
    }

    static double rawConsume(int n, int batch) {
        String s = backlog(n);
        XReadGroupParams params = XReadGroupParams.xReadGroupParams().count(batch);
        Map<String, StreamEntryID> key = Map.of(s, StreamEntryID.XREADGROUP_UNDELIVERED_ENTRY);
        Cpu cpu = Cpu.start(Thread.currentThread().getName());
        long t = System.nanoTime();
        int consumed = 0;
        while (consumed < n) {
            List<Map.Entry<String, List<StreamEntry>>> result = raw.xreadGroup(GROUP, "raw", params, key);
            List<StreamEntry> entries = result.get(0).getValue();
            StreamEntryID[] ids = new StreamEntryID[entries.size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = entries.get(i).getID();
            }
            raw.xack(s, GROUP, ids);
            consumed += ids.length;
        }
        double rate = n / ((System.nanoTime() - t) / 1e9);
        cpu.end("raw", n);
        requireAcknowledged(s);
        raw.del(s);
        return rate;
    }

    static void requireAcknowledged(String s) {
        long pending = raw.xpending(s, GROUP).getTotal();
        if (pending != 0) {
            throw new IllegalStateException(s + ": " + pending + " messages not acknowledged");
        }
    }

    /** Time from the engine's start until every message of the backlog is handled and acknowledged. */
    static double engineConsume(int n) throws InterruptedException {
        return engineConsume(n, BATCH);
    }

    static double engineConsume(int n, int batch) throws InterruptedException {
        return engineConsume(n, batch, Concurrency.SEQUENTIAL, "courier");
    }

    /** @param side the name the round's CPU time is printed under */
    static double engineConsume(int n, int batch, Concurrency concurrency, String side) throws InterruptedException {
        String s = backlog(n);
        LongAdder handled = new LongAdder();
        Broker broker = redisBroker();
        CourierEngine engine = engine(broker, s, batch, argument -> handled.increment(), concurrency);
        Cpu cpu = Cpu.start("courier-default-" + s + "-");
        long t = System.nanoTime();
        engine.start();
        try {
            awaitDrained(handled::sum, n, s, t);
            double rate = n / ((System.nanoTime() - t) / 1e9);
            cpu.end(side, n);
            return rate;
        } finally {
            engine.stop();
            broker.close();
            raw.del(s);
        }
    }

    private static CourierEngine engine(Broker broker, String s, Subscription.Invoker handler) {
        return engine(broker, s, BATCH, handler, Concurrency.SEQUENTIAL);
    }

    private static CourierEngine engine(Broker broker, String s, int batch, Subscription.Invoker handler) {
        return engine(broker, s, batch, handler, Concurrency.SEQUENTIAL);
    }

    private static CourierEngine engine(Broker broker, String s, Subscription.Invoker handler,
                                        Concurrency concurrency) {
        return engine(broker, s, BATCH, handler, concurrency);
    }

    static CourierEngine engine(Broker broker, String s, int batch, Subscription.Invoker handler,
                                Concurrency concurrency) {
        EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, batch, Duration.ofSeconds(1),
                Duration.ofSeconds(10), CONSUMER);
        return CourierEngine.create(settings, new Brokers(Map.of("default", broker)), List.of(new Subscription(
                "default", s, GROUP, "", Message.class, "Bench.handle(Message)", handler, CircuitBreakerSettings.OFF,
                concurrency)));
    }

    // Concurrency: handlers at once per loop

    static final int SLOW_HANDLER_MS = 5;

    private static void concurrency() throws Exception {
        long start = System.nanoTime();
        for (int workers : new int[] {1, 8, 32, 64}) {
            // About three seconds of work at the ideal rate, at least 1,000 messages.
            int n = Math.max(1000, (int) (workers * 200 * 3 * Math.min(1, scale)));
            double rate = engineConsume(n, sleeping(), new Concurrency(workers, Subscribe.Ordering.NONE, "", 0));
            double ideal = workers * 1000.0 / SLOW_HANDLER_MS;
            ratioRow(String.format(Locale.ROOT, "%d ms handler, concurrency %d, %,d messages", SLOW_HANDLER_MS,
                    workers, n), rate, ideal, "N x 200 msg/s", 0.8);
        }
        Cpu.print();
        // About a second a round: at 200,000 (half a second) the rounds of either side spread by a third on this
        // machine, and the ratio of their medians by 0.85x-1.07x.
        int n = n(400_000);
        double[][] noop = rounds(() -> engineConsume(n, null, Concurrency.SEQUENTIAL),
                () -> engineConsume(n, null, new Concurrency(8, Subscribe.Ordering.NONE, "", 0)));
        ratioRow("no-op handler, concurrency 8 (batch " + BATCH + ")", median(noop[1]), median(noop[0]),
                "concurrency 1", 0.9);
        int keyed = Math.max(1000, (int) (32 * 200 * 3 * Math.min(1, scale)));
        double none = engineConsume(keyed, sleeping(), new Concurrency(32, Subscribe.Ordering.NONE, "", 0));
        double byKey = engineConsume(keyed, sleeping(), new Concurrency(32, Subscribe.Ordering.KEY, "order_id", 0));
        ratioRow(String.format(Locale.ROOT, "%d ms handler, concurrency 32, KEY over 1,000 keys", SLOW_HANDLER_MS),
                byKey, none, "NONE", 0.8);
        progress("concurrency", start);
    }

    private static Subscription.Invoker sleeping() {
        return argument -> Thread.sleep(SLOW_HANDLER_MS);
    }

    /** As {@link #engineConsume(int)}, with a handler (null: no-op) and workers; messages carry 1,000 keys. */
    private static double engineConsume(int n, Subscription.Invoker work, Concurrency concurrency)
            throws InterruptedException {
        String s = stream("concurrent");
        for (int i = 0; i < n; i += BATCH) {
            try (AbstractPipeline pipeline = raw.pipelined()) {
                for (int j = i; j < Math.min(n, i + BATCH); j++) {
                    Map<String, Object> p = new LinkedHashMap<>(PAYLOAD);
                    p.put("order_id", j % 1000);
                    pipeline.xadd(s, XADD, Map.of("data", JsonCodec.write(p)));
                }
                pipeline.sync();
            }
        }
        raw.xgroupCreate(s, GROUP, new StreamEntryID(), false);
        LongAdder handled = new LongAdder();
        Broker broker = redisBroker();
        CourierEngine engine = engine(broker, s, argument -> {
            if (work != null) {
                work.invoke(argument);
            }
            handled.increment();
        }, concurrency);
        Cpu cpu = Cpu.start("courier-default-" + s + "-");
        long t = System.nanoTime();
        engine.start();
        try {
            awaitDrained(handled::sum, n, s, t);
            double rate = n / ((System.nanoTime() - t) / 1e9);
            cpu.end("concurrency " + concurrency.workers(), n);
            return rate;
        } finally {
            engine.stop();
            broker.close();
            raw.del(s);
        }
    }

    static void awaitCount(LongSupplier count, long n, String what) throws InterruptedException {
        long t = System.nanoTime();
        while (count.getAsLong() < n) {
            Thread.sleep(1);
            checkTimeout(t, what);
        }
    }

    /** Waits until n messages were handled and the group has nothing pending: all of them acknowledged. */
    static void awaitDrained(LongSupplier handled, long n, String s, long t)
            throws InterruptedException {
        awaitCount(handled, n, s);
        while (raw.xpending(s, GROUP).getTotal() > 0) {
            Thread.sleep(1);
            checkTimeout(t, s);
        }
    }

    static void checkTimeout(long t, String what) {
        if (System.nanoTime() - t > TimeUnit.SECONDS.toNanos(120)) {
            throw new IllegalStateException(what + ": not consumed within 120 s");
        }
    }

    private static double peerConsume(Peer peer, int n) throws InterruptedException {
        String s = backlog(n);
        LongAdder handled = new LongAdder();
        long t = System.nanoTime();
        StreamMessageListenerContainer<?, ?> container = peer.consume(s, GROUP, BATCH, payload -> handled.increment());
        try {
            awaitCount(handled::sum, n, s);
            double rate = n / ((System.nanoTime() - t) / 1e9);
            requireAcknowledged(s);
            return rate;
        } finally {
            container.stop();
            raw.del(s);
        }
    }

    // Latency

    private static void latency(Peer peer) throws Exception {
        long start = System.nanoTime();
        for (int rate : new int[] {1_000, 10_000}) {
            int seconds = rate == 1_000 ? 10 : 5;
            int n = Math.max(1000, (int) (rate * seconds * Math.min(1, scale)));
            courierLatency(rate, Math.min(n, rate)); // warm-up second
            peerLatency(peer, rate, Math.min(n, rate));
            // Two halves each, alternating, on a collected heap: a noisy spell or a collection falls on both.
            long[][] halves = new long[4][];
            for (int i = 0; i < 4; i++) {
                System.gc();
                halves[i] = i % 2 == 0 ? courierLatency(rate, n / 2) : peerLatency(peer, rate, n / 2);
            }
            long[] c = concat(halves[0], halves[2]);
            long[] p = concat(halves[1], halves[3]);
            row(String.format(Locale.ROOT, "Courier publish-to-handler latency at %,d msg/s, batch %d (p50 / p99 / "
                    + "p99.9)", rate, EngineSettings.DEFAULT_BATCH_SIZE), percentiles(c), "", "", "");
            row(String.format(Locale.ROOT, "peer publish-to-listener latency at %,d msg/s (p50 / p99 / p99.9)",
                    rate), percentiles(p), "", "", "");
            double ratio = (double) percentile(c, 0.99) / percentile(p, 0.99);
            row("Courier p99 / peer p99 at " + String.format(Locale.ROOT, "%,d", rate) + " msg/s", "",
                    String.format(Locale.ROOT, "%.2fx", ratio), "<= 1.0x", ratio <= 1.0 ? "yes" : "NO");
        }
        progress("latency", start);
    }

    private static long[] courierLatency(int rate, int n) throws InterruptedException {
        String s = stream("latency");
        raw.xgroupCreate(s, GROUP, new StreamEntryID(), true);
        long[] samples = new long[n];
        AtomicInteger received = new AtomicInteger();
        Broker broker = redisBroker();
        // At the engine's default batch size: the latency an application gets without tuning.
        CourierEngine engine = engine(broker, s, EngineSettings.DEFAULT_BATCH_SIZE, argument -> {
            long sent = ((Number) ((Message) argument).payload().get("sent")).longValue();
            samples[received.getAndIncrement()] = System.nanoTime() - sent;
        });
        engine.start();
        try {
            Thread.sleep(200);
            pace(rate, n, () -> broker.publish(s, timed()));
            awaitCount(received::get, n, s);
            return samples;
        } finally {
            engine.stop();
            broker.close();
            raw.del(s);
        }
    }

    private static long[] peerLatency(Peer peer, int rate, int n) throws InterruptedException {
        String s = stream("peer-latency");
        raw.xgroupCreate(s, GROUP, new StreamEntryID(), true);
        long[] samples = new long[n];
        AtomicInteger received = new AtomicInteger();
        StreamMessageListenerContainer<?, ?> container = peer.consume(s, GROUP, BATCH, payload -> {
            long sent = ((Number) payload.get("sent")).longValue();
            samples[received.getAndIncrement()] = System.nanoTime() - sent;
        });
        try {
            Thread.sleep(200);
            pace(rate, n, () -> peer.publish(s, timed()));
            awaitCount(received::get, n, s);
            return samples;
        } finally {
            container.stop();
            raw.del(s);
        }
    }

    private static long[] concat(long[] a, long[] b) {
        long[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private static Map<String, Object> timed() {
        Map<String, Object> p = new LinkedHashMap<>(PAYLOAD);
        p.put("sent", System.nanoTime());
        return p;
    }

    /** Calls {@code publish} n times at a steady rate from this thread. */
    private static void pace(int rate, int n, Runnable publish) {
        long interval = 1_000_000_000L / rate;
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long due = start + i * interval;
            long wait;
            while ((wait = due - System.nanoTime()) > 0) {
                if (wait > 80_000) {
                    LockSupport.parkNanos(wait - 60_000);
                } else {
                    Thread.onSpinWait();
                }
            }
            publish.run();
        }
    }

    private static long percentile(long[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }

    private static String percentiles(long[] samples) {
        Arrays.sort(samples);
        return String.format(Locale.ROOT, "%.2f / %.2f / %.2f ms", percentile(samples, 0.5) / 1e6,
                percentile(samples, 0.99) / 1e6, percentile(samples, 0.999) / 1e6);
    }

    // Inline

    private static void inline() throws Exception {
        long start = System.nanoTime();
        int n = n(1_000_000);
        double[] r = new double[ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
            System.gc();
            r[i] = inlineThroughput(n);
        }
        System.err.printf(Locale.ROOT, "    rounds inline %s%n", rounds(r));
        double rate = median(r);
        row("inline publish + engine consume, in process (" + String.format(Locale.ROOT, "%,d", n) + " messages)",
                rate(rate), "", ">= 1,000,000/s", rate >= 1_000_000 ? "yes" : "NO");
        progress("inline", start);
    }

    /** One thread publishes n messages while the engine consumes them; n / time until all are handled. */
    private static double inlineThroughput(int n) throws Exception {
        Broker broker = inlineBroker();
        String s = stream("inline");
        LongAdder handled = new LongAdder();
        CourierEngine engine = engine(broker, s, argument -> handled.increment());
        engine.start();
        try {
            long t = System.nanoTime();
            Thread publisher = new Thread(() -> {
                for (int i = 0; i < n; i++) {
                    broker.publish(s, PAYLOAD);
                }
            });
            publisher.start();
            awaitCount(handled::sum, n, s);
            publisher.join();
            return n / ((System.nanoTime() - t) / 1e9);
        } finally {
            engine.stop();
            broker.close();
        }
    }

    // Heap

    private static void heap() throws Exception {
        long start = System.nanoTime();
        int n = n(1_000_000);
        // Inline: the backlog lives in the heap.
        Broker inline = inlineBroker();
        inline.read("backlog", GROUP, 1); // a known group that reads nothing: the log keeps it all
        long before = usedAfterGc();
        for (int i = 0; i < n; i++) {
            inline.publish("backlog", PAYLOAD);
        }
        long inlineGrowth = usedAfterGc() - before;
        if (inline.info().isEmpty()) {
            throw new IllegalStateException(); // keeps the broker reachable until here
        }
        inline = null;
        row(String.format(Locale.ROOT, "heap used by a %,d-message backlog on inline", n), mb(inlineGrowth),
                String.format(Locale.ROOT, "%.0f bytes/message", (double) inlineGrowth / n), "", "");

        redisHeapGrowth(n, Concurrency.SEQUENTIAL);
        redisHeapGrowth(n, new Concurrency(64, Subscribe.Ordering.KEY, "", 0));
        progress("heap", start);
    }

    /** The live heap's growth while the engine consumes an n-message backlog on redis. */
    private static void redisHeapGrowth(int n, Concurrency concurrency) throws Exception {
        // Redis: the backlog lives in Redis; the heap should not grow with it while the engine consumes it.
        String s = backlog(n);
        LongAdder handled = new LongAdder();
        Broker broker = redisBroker();
        CourierEngine engine = engine(broker, s, argument -> handled.increment(), concurrency);
        long baseline = usedAfterGc();
        AtomicLong maxLive = new AtomicLong();
        AtomicLong maxUsed = new AtomicLong();
        AtomicLong maxReadAfterGc = new AtomicLong();
        Thread sampler = new Thread(() -> {
            int tick = 0;
            while (!Thread.currentThread().isInterrupted()) {
                maxUsed.accumulateAndGet(used(), Math::max);
                if (++tick % 20 == 0) {
                    maxLive.accumulateAndGet(usedAfterGc(), Math::max);
                    // What the earlier figure was: the heap in use read just after the collection.
                    maxReadAfterGc.accumulateAndGet(used(), Math::max);
                }
                LockSupport.parkNanos(25_000_000);
            }
        });
        long t = System.nanoTime();
        engine.start();
        sampler.start();
        try {
            awaitCount(handled::sum, n, s);
            maxLive.accumulateAndGet(usedAfterGc(), Math::max);
        } finally {
            sampler.interrupt();
            sampler.join();
            engine.stop();
            broker.close();
            raw.del(s);
        }
        double rate = n / ((System.nanoTime() - t) / 1e9);
        long growth = Math.max(0, maxLive.get() - baseline);
        System.err.printf(Locale.ROOT, "    heap, %d worker(s): live after GC (collector's figure) +%s; heap in use "
                + "read right after the GC +%s%n", concurrency.workers(), mb(growth),
                mb(Math.max(0, maxReadAfterGc.get() - baseline)));
        row(String.format(Locale.ROOT, "heap growth consuming a %,d-message backlog on redis (live, after GC)%s", n,
                        concurrency.workers() > 1 ? ", concurrency " + concurrency.workers() + ", "
                                + concurrency.ordering() : ""),
                mb(growth), String.format(Locale.ROOT, "peak used incl. garbage %s; %s while sampling",
                        mb(maxUsed.get() - baseline), rate(rate)),
                "<= 64 MB", growth <= 64L << 20 ? "yes" : "NO");
    }

    // Soak: inline runs for long without growing

    /** How far the publisher may run ahead of the slower group, as a steady application would. */
    static final int SOAK_LAG = 10_000;
    static final int SOAK_SAMPLES = 8;
    static final int BYTES_PER_MESSAGE = 430;

    /**
     * Two groups consume what one thread publishes on inline; the live heap (after a full GC) is sampled at
     * intervals. With the default max-length it stays within what the log may keep: the history plus the lag.
     */
    private static void soak() throws Exception {
        long start = System.nanoTime();
        int n = n(2_000_000);
        Broker broker = inlineBroker();
        String s = stream("soak");
        LongAdder a = new LongAdder();
        LongAdder b = new LongAdder();
        EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, BATCH, Duration.ofSeconds(1),
                Duration.ofSeconds(10), CONSUMER);
        CourierEngine engine = CourierEngine.create(settings, new Brokers(Map.of("default", broker)), List.of(
                new Subscription("default", s, "soak-a", "", Message.class, "Bench.a(Message)", x -> a.increment()),
                new Subscription("default", s, "soak-b", "", Message.class, "Bench.b(Message)", x -> b.increment())));
        engine.start();
        long[] live = new long[SOAK_SAMPLES];
        long t;
        long retained;
        try {
            // Both groups known before the first message, as when subscribers deploy with the publisher.
            awaitCount(() -> engine.status().loops().stream().filter(l -> l.lastCycle() != null).count(), 2, s);
            long baseline = usedAfterGc();
            t = System.nanoTime();
            int every = n / SOAK_SAMPLES;
            for (int i = 0; i < n; i++) {
                broker.publish(s, PAYLOAD);
                while (i - Math.min(a.sum(), b.sum()) > SOAK_LAG) {
                    LockSupport.parkNanos(100_000);
                }
                if ((i + 1) % every == 0) {
                    live[(i + 1) / every - 1] = usedAfterGc() - baseline;
                }
            }
            awaitCount(() -> Math.min(a.sum(), b.sum()), n, s);
            t = System.nanoTime() - t;
            @SuppressWarnings("unchecked")
            Map<String, Map<String, Object>> info = (Map<String, Map<String, Object>>) broker.info().get("streams");
            retained = ((Number) info.get(s).get("length")).longValue();
        } finally {
            engine.stop();
            broker.close();
        }
        long max = Arrays.stream(live).max().orElse(0);
        long bound = (long) (10_000 + SOAK_LAG) * BYTES_PER_MESSAGE;
        StringBuilder samples = new StringBuilder();
        for (long sample : live) {
            samples.append(samples.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.1f",
                    sample / (1024.0 * 1024.0)));
        }
        System.err.printf(Locale.ROOT, "    soak live heap growth (MB) at each eighth: %s%n", samples);
        row(String.format(Locale.ROOT, "live heap growth over %,d messages through two groups on inline (after GC, "
                        + "%d samples)", n, SOAK_SAMPLES), mb(Math.max(0, max)),
                String.format(Locale.ROOT, "samples %s MB; %,d entries retained at the end; %s", samples, retained,
                        rate(n / (t / 1e9))),
                "<= (10,000 kept + " + String.format(Locale.ROOT, "%,d", SOAK_LAG) + " lag) x 430 B = " + mb(bound),
                max <= bound ? "yes" : "NO");
        progress("soak", start);
    }

    private static long used() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /**
     * The live heap: what a full collection left, as the collector reports it. Not {@link #used()} read after
     * {@code System.gc()}: by then the running threads have allocated again (each of 64 workers takes a fresh TLAB,
     * and a descheduled sampler on a loaded machine reads tens of MB of new garbage as live).
     */
    private static long usedAfterGc() {
        System.gc();
        System.gc();
        long after = -1;
        long end = -1;
        for (java.lang.management.GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc instanceof com.sun.management.GarbageCollectorMXBean bean && bean.getLastGcInfo() != null
                    && bean.getLastGcInfo().getEndTime() > end && isFull(bean.getName())) {
                end = bean.getLastGcInfo().getEndTime();
                after = heapUsed(bean.getLastGcInfo().getMemoryUsageAfterGc());
            }
        }
        return after >= 0 ? after : used();
    }

    /** Whether a collector is the one System.gc() runs (G1's and Parallel's full collections, Serial's old). */
    private static boolean isFull(String collector) {
        return collector.contains("Old") || collector.contains("MarkSweep") || collector.contains("Full");
    }

    private static long heapUsed(Map<String, java.lang.management.MemoryUsage> pools) {
        long sum = 0;
        for (java.lang.management.MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            java.lang.management.MemoryUsage usage = pools.get(pool.getName());
            if (pool.getType() == java.lang.management.MemoryType.HEAP && usage != null) {
                sum += usage.getUsed();
            }
        }
        return sum;
    }

    /**
     * The CPU time a consuming round took per message: of the client's threads (those whose names start with a
     * prefix, read before they end) and of redis-server. Printed with the rounds: it tells CPU from waiting.
     */
    static final class Cpu {
        private static final Map<String, List<String>> notes = new LinkedHashMap<>();
        private final String threads;
        private final long client;
        private final long server;

        private Cpu(String threads) {
            this.threads = threads;
            this.client = threadCpu(threads);
            this.server = redis.cpuNanos();
        }

        static Cpu start(String threadNamePrefix) {
            return new Cpu(threadNamePrefix);
        }

        void end(String side, int n) {
            double clientUs = (threadCpu(threads) - client) / 1e3 / n;
            double serverUs = (redis.cpuNanos() - server) / 1e3 / n;
            notes.computeIfAbsent(side, k -> new ArrayList<>()).add(String.format(Locale.ROOT, "%.2f+%.2f",
                    clientUs, serverUs));
        }

        static void clear() {
            notes.clear();
        }

        /** Each side's rounds as client+redis CPU microseconds per message. */
        static void print() {
            notes.forEach((side, rounds) -> System.err.printf(Locale.ROOT, "    cpu us/msg (client+redis) %s: %s%n",
                    side, String.join(" ", rounds)));
            notes.clear();
        }

        private static long threadCpu(String prefix) {
            java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            long sum = 0;
            for (java.lang.management.ThreadInfo info : mx.getThreadInfo(mx.getAllThreadIds())) {
                if (info != null && info.getThreadName().startsWith(prefix)) {
                    sum += Math.max(0, mx.getThreadCpuTime(info.getThreadId()));
                }
            }
            return sum;
        }
    }

    // Rounds and the table

    interface Measure {
        double run() throws Exception;
    }

    /** ROUNDS rounds of each, alternating: [0] the raw figures, [1] Courier's. */
    static double[][] rounds(Measure rawSide, Measure courierSide) throws Exception {
        Cpu.clear();
        double[][] r = new double[2][ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
            // Each round starts on a collected heap: no round pays for an earlier one's garbage.
            System.gc();
            r[0][i] = rawSide.run();
            System.gc();
            r[1][i] = courierSide.run();
        }
        // Each round, on stderr: how far apart the rounds are shows how noisy the machine was.
        System.err.printf(Locale.ROOT, "    rounds raw %s%n    rounds courier %s%n", rounds(r[0]), rounds(r[1]));
        Cpu.print();
        return r;
    }

    private static String rounds(double[] values) {
        StringBuilder text = new StringBuilder();
        for (double v : values) {
            text.append(String.format(Locale.ROOT, " %,.0f", v));
        }
        return text.toString();
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    static void ratioRow(String what, double value, double counterpart, String counterpartName,
                                 double target) {
        double ratio = value / counterpart;
        row(what, rate(value), String.format(Locale.ROOT, "%.2fx %s", ratio, counterpartName),
                target > 0 ? String.format(Locale.ROOT, ">= %.1fx", target) : "",
                target > 0 ? (ratio >= target ? "yes" : "NO") : "");
    }

    static void row(String what, String value, String ratio, String target, String met) {
        rows.add(new String[] {what, value, ratio, target, met});
    }

    static String rate(double perSecond) {
        return String.format(Locale.ROOT, "%,.0f msg/s", perSecond);
    }

    static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f MB", bytes / 1048576.0);
    }

    static void progress(String what, long start) {
        System.err.printf(Locale.ROOT, "  %s done in %.1f s%n", what, (System.nanoTime() - start) / 1e9);
    }

    private static void print() {
        String[] header = {"measurement", "figure", "ratio to raw client (same run)", "target", "met"};
        int[] width = new int[header.length];
        for (int i = 0; i < header.length; i++) {
            width[i] = header[i].length();
            for (String[] row : rows) {
                width[i] = Math.max(width[i], row[i].length());
            }
        }
        StringBuilder out = new StringBuilder("\n");
        line(out, header, width);
        String[] rule = new String[header.length];
        for (int i = 0; i < rule.length; i++) {
            rule[i] = "-".repeat(width[i]);
        }
        line(out, rule, width);
        rows.forEach(row -> line(out, row, width));
        System.out.print(out);
    }

    private static void line(StringBuilder out, String[] cells, int[] width) {
        out.append('|');
        for (int i = 0; i < cells.length; i++) {
            out.append(' ').append(cells[i]).append(" ".repeat(width[i] - cells[i].length())).append(" |");
        }
        out.append('\n');
    }
}
