package dev.courier.bench;

import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.Message;
import dev.courier.engine.EngineMode;
import dev.courier.internal.engine.CircuitBreakerSettings;
import dev.courier.internal.engine.Concurrency;
import dev.courier.internal.engine.CourierEngine;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.internal.engine.Subscription;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.LocalRedisCluster;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.util.JedisClusterCRC16;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Redis Cluster (section "cluster"): a local cluster of 3 masters, each with a replica (the test kit's), against the
 * harness's one node, in one run, rounds alternating. {@value #STREAMS} streams whose slots are spread evenly over
 * the 3 masters, the same names on the one node:
 * <ul>
 *   <li>publishAll x{@value Bench#BATCH}, one thread per stream;</li>
 *   <li>the engine (one loop per stream, no-op handler) draining a backlog in all of them;</li>
 *   <li>publishAll on the cluster with {@code min-replicas-acked=1} (a WAIT per pipeline) against without.</li>
 * </ul>
 * All processes share the machine's cores: on 2 cores, 3 masters, 3 replicas and the client compete for them, and
 * the cores, not Redis, set the limit.
 */
final class ClusterBench {

    /** Two a master. */
    static final int STREAMS = 6;

    private ClusterBench() {
    }

    static void run(String singleUri) throws Exception {
        long start = System.nanoTime();
        try (LocalRedisCluster cluster = LocalRedisCluster.start(3);
             RedisClusterClient clusterClient = RedisClusterClient.create(java.util.Set.copyOf(cluster.seeds()))) {
            List<String> streams = spread();
            Side single = new Side("one node", singleUri, Map.of(), Bench.raw);
            Side spread = new Side("3 masters", cluster.uri(), Map.of(), clusterClient);
            Side durable = new Side("3 masters, min-replicas-acked=1", cluster.uri(),
                    Map.of("min-replicas-acked", "1"), clusterClient);
            int published = Bench.n(300_000);
            int consumed = Bench.n(200_000);
            for (Side side : List.of(single, spread, durable)) { // warm-up
                publishAll(side, streams, published / 4);
            }
            consume(single, streams, consumed / 4);
            consume(spread, streams, consumed / 4);
            double[][] publish = new double[3][Bench.ROUNDS];
            double[][] consume = new double[2][Bench.ROUNDS];
            // CPU time of this JVM and of the redis-server processes it started, per side: where the cores went.
            long[][] cpu = new long[5][2];
            for (int i = 0; i < Bench.ROUNDS; i++) {
                publish[0][i] = cpu(cpu[0], () -> publishAll(single, streams, published));
                publish[1][i] = cpu(cpu[1], () -> publishAll(spread, streams, published));
                publish[2][i] = cpu(cpu[2], () -> publishAll(durable, streams, published));
                consume[0][i] = cpu(cpu[3], () -> consume(single, streams, consumed));
                consume[1][i] = cpu(cpu[4], () -> consume(spread, streams, consumed));
            }
            String[] sides = {"publishAll one node", "publishAll 3 masters", "publishAll 3 masters, min-replicas-acked=1",
                    "consume one node", "consume 3 masters"};
            for (int k = 0; k < sides.length; k++) {
                long messages = (long) (k < 3 ? published : consumed) * Bench.ROUNDS;
                System.err.printf(Locale.ROOT, "    CPU per message, %s: client %.2f us, redis-servers %.2f us%n",
                        sides[k], cpu[k][0] / 1e3 / messages, cpu[k][1] / 1e3 / messages);
            }
            System.err.printf(Locale.ROOT, "    rounds publishAll one node%s%n    rounds publishAll 3 masters%s%n"
                            + "    rounds publishAll 3 masters, min-replicas-acked=1%s%n"
                            + "    rounds consume one node%s%n    rounds consume 3 masters%s%n",
                    line(publish[0]), line(publish[1]), line(publish[2]), line(consume[0]), line(consume[1]));
            String all = "cluster: Courier publishAll x" + Bench.BATCH + ", " + STREAMS + " threads, " + STREAMS
                    + " streams, ";
            double one = Bench.median(publish[0]);
            Bench.row(all + "one node", Bench.rate(one), "", "", "");
            ratio(all + "3 masters (+3 replicas)", Bench.median(publish[1]), one, "one node", 2.0);
            ratio(all + "3 masters, min-replicas-acked=1", Bench.median(publish[2]), Bench.median(publish[1]),
                    "min-replicas-acked=0", 0.5);
            String engine = "cluster: Courier engine, no-op handler, " + consumed + " messages in " + STREAMS
                    + " streams, ";
            double oneConsume = Bench.median(consume[0]);
            Bench.row(engine + "one node", Bench.rate(oneConsume), "", "", "");
            ratio(engine + "3 masters (+3 replicas)", Bench.median(consume[1]), oneConsume, "one node", 2.0);
        }
        Bench.progress("cluster", start);
    }

    /** Where a side runs: a broker's uri and options, and a raw client to set up and check. */
    private record Side(String label, String uri, Map<String, String> options, UnifiedJedis raw) {

        Broker broker() {
            Map<String, String> settings = new HashMap<>(options);
            settings.put("uri", uri);
            return new RedisBrokerProvider().create("default", new BrokerSettings("default", "redis", settings,
                    Bench.CONSUMER));
        }
    }

    /** {@value #STREAMS} stream names, as many in each third of the slots (each master's, in the kit's cluster). */
    private static List<String> spread() {
        List<String> streams = new ArrayList<>();
        int[] perMaster = new int[3];
        for (int i = 0; streams.size() < STREAMS; i++) {
            String name = "bench-cluster-" + i;
            int slot = JedisClusterCRC16.getSlot(name);
            int master = slot >= 2 * LocalRedisCluster.SLOTS / 3 ? 2 : slot >= LocalRedisCluster.SLOTS / 3 ? 1 : 0;
            if (perMaster[master] < STREAMS / 3) {
                perMaster[master]++;
                streams.add(name);
            }
        }
        return streams;
    }

    /** One thread per stream, each publishAll-ing its share; n per second over all of them. */
    private static double publishAll(Side side, List<String> streams, int n) throws Exception {
        List<Map<String, Object>> batch = Collections.nCopies(Bench.BATCH, Bench.PAYLOAD);
        int each = n / streams.size() / Bench.BATCH * Bench.BATCH;
        try (Broker broker = side.broker()) {
            List<Bench.Measure> tasks = new ArrayList<>();
            for (String s : streams) {
                broker.publish(s, Bench.PAYLOAD); // connected before the clock starts
                side.raw().del(s);
                tasks.add(() -> {
                    for (int sent = 0; sent < each; sent += Bench.BATCH) {
                        broker.publishAll(s, batch);
                    }
                    return 0;
                });
            }
            long t = Bench.concurrently(tasks, "publishing on " + side.label());
            double rate = each * streams.size() / ((System.nanoTime() - t) / 1e9);
            for (String s : streams) {
                long length = side.raw().xlen(s);
                if (length != each) {
                    throw new IllegalStateException(s + " on " + side.label() + " holds " + length + ", not " + each);
                }
                side.raw().del(s);
            }
            return rate;
        }
    }

    /** One engine, a loop per stream, draining n entries spread over the streams; n per second. */
    private static double consume(Side side, List<String> streams, int n) throws InterruptedException {
        int each = n / streams.size() / Bench.BATCH * Bench.BATCH;
        List<Map<String, Object>> batch = Collections.nCopies(Bench.BATCH, Bench.PAYLOAD);
        LongAdder handled = new LongAdder();
        List<Subscription> subscriptions = new ArrayList<>();
        try (Broker broker = side.broker()) {
            for (String s : streams) {
                side.raw().del(s);
                for (int sent = 0; sent < each; sent += Bench.BATCH) {
                    broker.publishAll(s, batch);
                }
                side.raw().xgroupCreate(s, Bench.GROUP, new StreamEntryID(), false);
                subscriptions.add(new Subscription("default", s, Bench.GROUP, "", Message.class,
                        "ClusterBench.handle", argument -> handled.increment(), CircuitBreakerSettings.OFF,
                        Concurrency.SEQUENTIAL));
            }
            EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, Bench.BATCH, Duration.ofSeconds(1),
                    Duration.ofSeconds(10), Bench.CONSUMER);
            CourierEngine engine = CourierEngine.create(settings, new Brokers(Map.of("default", broker)),
                    subscriptions);
            long t = System.nanoTime();
            engine.start();
            try {
                Bench.awaitCount(handled::sum, (long) each * streams.size(), side.label());
                for (String s : streams) {
                    while (side.raw().xpending(s, Bench.GROUP).getTotal() > 0) {
                        Thread.sleep(1);
                    }
                }
                return each * streams.size() / ((System.nanoTime() - t) / 1e9);
            } finally {
                engine.stop();
                streams.forEach(s -> side.raw().del(s));
            }
        }
    }

    /** Runs a measure after a collection, adding this JVM's and the redis-servers' CPU nanoseconds to {@code sum}. */
    private static double cpu(long[] sum, Bench.Measure measure) throws Exception {
        System.gc();
        long client = processCpu();
        long servers = serversCpu();
        double rate = measure.run();
        sum[0] += processCpu() - client;
        sum[1] += serversCpu() - servers;
        return rate;
    }

    private static long processCpu() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /**
     * The processes this JVM started: the cluster's nodes, the harness's one node, and the test kit's watchdogs
     * (shells that wait, using no CPU). Not told apart by command: redis-server is often a link to redis-check-rdb.
     */
    private static long serversCpu() {
        return ProcessHandle.current().descendants()
                .mapToLong(p -> p.info().totalCpuDuration().map(Duration::toNanos).orElse(0L)).sum();
    }

    private static void ratio(String what, double value, double counterpart, String name, double target) {
        Bench.row(what, Bench.rate(value), String.format(Locale.ROOT, "%.2fx %s", value / counterpart, name),
                String.format(Locale.ROOT, ">= %.1fx", target), value / counterpart >= target ? "yes" : "NO");
    }

    private static String line(double[] values) {
        StringBuilder text = new StringBuilder();
        for (double v : values) {
            text.append(String.format(Locale.ROOT, " %,.0f", v));
        }
        return text.toString();
    }
}
