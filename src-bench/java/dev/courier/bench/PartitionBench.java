package dev.courier.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.courier.Broker;
import dev.courier.Subscribe;
import dev.courier.internal.JsonCodec;
import dev.courier.internal.engine.Concurrency;
import dev.courier.internal.engine.CourierEngine;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.StreamEntryID;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Partitioned streams (section "partitioned"): the engine consuming a backlog spread over 1,000 partition keys
 * against the same backlog in one unpartitioned stream, alternating rounds, both at concurrency 8; and the idle cost
 * of 10,000 keys over 3 instances (engines in this JVM, each with a broker of its own): process CPU while nothing is
 * published, per instance, as a share of one core.
 */
final class PartitionBench {

    private static final OperatingSystemMXBean OS =
            (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private static final Concurrency EIGHT = new Concurrency(8, Subscribe.Ordering.NONE, "", 0);

    private PartitionBench() {
    }

    static void run() throws Exception {
        long start = System.nanoTime();
        int published = Bench.n(100_000);
        double[][] p = Bench.rounds(() -> publishAll(published, false), () -> publishAll(published, true));
        Bench.ratioRow(String.format(Locale.ROOT, "partitioned publishAll x%d, 1,000 keys", Bench.BATCH),
                Bench.median(p[1]), Bench.median(p[0]), "publishAll to one stream", 0);
        if (System.getProperty("bench.only", "").equals("partitioned-publish")) {
            return;
        }
        int n = Bench.n(100_000);
        // Warm-up of both sides, as the other sections have: two full rounds each, as the partitioned side's first
        // measured round was still the slowest after one (the JIT compiler still at work: its JVM CPU a message was
        // higher in that round).
        System.err.println("    warm-up:");
        for (int i = 0; i < 2; i++) {
            consume(n, false);
            consume(n, true);
        }
        double[][] r = Bench.rounds(() -> consume(n, false), () -> consume(n, true));
        Bench.ratioRow(String.format(Locale.ROOT, "partitioned consume, 1,000 keys, concurrency 8, %,d messages", n),
                Bench.median(r[1]), Bench.median(r[0]), "one stream, concurrency 8", 0.6);
        idle(10_000, 3);
        Bench.progress("partitioned", start);
    }

    private static double consume(int n, boolean partitioned) throws Exception {
        String s = Bench.stream(partitioned ? "partitioned" : "unpartitioned");
        fill(s, n, partitioned);
        Broker broker = Bench.redisBroker(partitioned ? Map.of("partition-key." + s, "order_id") : Map.of(),
                Bench.CONSUMER);
        LongAdder handled = new LongAdder();
        CourierEngine engine = Bench.engine(broker, s, Bench.BATCH, argument -> handled.increment(), EIGHT);
        Bench.raw.sendCommand(redis.clients.jedis.Protocol.Command.CONFIG, "RESETSTAT");
        double server = redisCpu();
        long cpu = OS.getProcessCpuTime();
        long t = System.nanoTime();
        engine.start();
        try {
            Bench.awaitCount(handled::sum, 1, s);
            long first = System.nanoTime() - t;
            Bench.awaitCount(handled::sum, n, s);
            double rate = n / ((System.nanoTime() - t) / 1e9);
            // Where the time goes: the start (the first message), redis-server's CPU and this JVM's, per message.
            System.err.printf(Locale.ROOT, "    %s: %,.0f msg/s, first message after %.0f ms, redis-server %.2f us/msg, "
                    + "JVM %.2f us/msg%n", partitioned ? "partitioned" : "one stream", rate, first / 1e6,
                    (redisCpu() - server) * 1e6 / n,
                    (OS.getProcessCpuTime() - cpu) / 1e3 / n);
            System.err.println("      " + commands(n));
            return rate;
        } finally {
            engine.stop();
            broker.close();
            delete(s, partitioned);
        }
    }

    /**
     * publishAll of {@value Bench#BATCH} messages at a time over 1,000 order ids, to a stream partitioned by them or
     * to one stream, through a broker made for the round.
     */
    private static double publishAll(int n, boolean partitioned) {
        String s = Bench.stream(partitioned ? "partitioned-publish-all" : "keyed-publish-all");
        Broker broker = Bench.redisBroker(partitioned ? Map.of("partition-key." + s, "order_id") : Map.of(),
                Bench.CONSUMER);
        List<List<Map<String, Object>>> batches = new ArrayList<>();
        for (int b = 0; b < 1000 / Bench.BATCH; b++) {
            List<Map<String, Object>> batch = new ArrayList<>();
            for (int j = 0; j < Bench.BATCH; j++) {
                Map<String, Object> payload = new LinkedHashMap<>(Bench.PAYLOAD);
                payload.put("order_id", b * Bench.BATCH + j);
                batch.add(payload);
            }
            batches.add(batch);
        }
        try {
            long t = System.nanoTime();
            for (int sent = 0, b = 0; sent < n; sent += Bench.BATCH, b++) {
                broker.publishAll(s, batches.get(b % batches.size()));
            }
            double rate = n / ((System.nanoTime() - t) / 1e9);
            long stored = partitioned ? stored(s) : Bench.raw.xlen(s);
            if (stored != n || partitioned && Bench.raw.scard(s + ":__partitions__") != 1000) {
                throw new IllegalStateException(s + " holds " + stored + " entries, not " + n);
            }
            return rate;
        } finally {
            broker.close();
            delete(s, partitioned);
        }
    }

    /** The entries of the 1,000 partition streams of s. */
    private static long stored(String s) {
        List<redis.clients.jedis.Response<Long>> lengths = new ArrayList<>();
        try (AbstractPipeline pipeline = Bench.raw.pipelined()) {
            for (int k = 0; k < 1000; k++) {
                lengths.add(pipeline.xlen(s + ":" + k));
            }
            pipeline.sync();
        }
        return lengths.stream().mapToLong(redis.clients.jedis.Response::get).sum();
    }

    /** n messages over 1,000 order ids; partitioned, in Protean's layout (as a publish writes it, pipelined). */
    private static void fill(String s, int n, boolean partitioned) {
        for (int i = 0; i < n; i += Bench.BATCH) {
            try (AbstractPipeline pipeline = Bench.raw.pipelined()) {
                for (int j = i; j < Math.min(n, i + Bench.BATCH); j++) {
                    Map<String, Object> p = new LinkedHashMap<>(Bench.PAYLOAD);
                    p.put("order_id", j % 1000);
                    Map<String, String> fields = Map.of("data", JsonCodec.write(p));
                    if (partitioned) {
                        pipeline.sadd(s + ":__partitions__", Integer.toString(j % 1000));
                        pipeline.xadd(s + ":" + (j % 1000), Bench.XADD, fields);
                    } else {
                        pipeline.xadd(s, Bench.XADD, fields);
                    }
                }
                pipeline.sync();
            }
        }
        if (!partitioned) {
            Bench.raw.xgroupCreate(s, Bench.GROUP, new StreamEntryID(), false);
        }
    }

    private static void delete(String s, boolean partitioned) {
        if (!partitioned) {
            Bench.raw.del(s);
            return;
        }
        List<String> keys = new ArrayList<>();
        for (int k = 0; k < 1000; k++) {
            keys.add(s + ":" + k);
            keys.add(Bench.GROUP + ":" + k + ":__lease__");
            keys.add(Bench.GROUP + ":" + k + ":__generation__");
        }
        keys.add(s + ":__partitions__");
        Bench.raw.del(keys.toArray(String[]::new));
    }

    /** 10,000 keys with one message each, handled, then idle: CPU over 20 s per instance. */
    private static void idle(int keys, int instances) throws Exception {
        String s = Bench.stream("idle");
        try (AbstractPipeline pipeline = Bench.raw.pipelined()) {
            for (int k = 0; k < keys; k++) {
                pipeline.sadd(s + ":__partitions__", Integer.toString(k));
                pipeline.xadd(s + ":" + k, Bench.XADD, Map.of("data", "{\"order_id\":" + k + "}"));
            }
            pipeline.sync();
        }
        LongAdder handled = new LongAdder();
        List<Broker> brokers = new ArrayList<>();
        List<CourierEngine> engines = new ArrayList<>();
        try {
            for (int i = 0; i < instances; i++) {
                Broker broker = Bench.redisBroker(Map.of("partition-key." + s, "order_id"), "idle-" + i);
                brokers.add(broker);
                CourierEngine engine = Bench.engine(broker, s, Bench.BATCH, argument -> handled.increment(), EIGHT);
                engines.add(engine);
                engine.start();
            }
            Bench.awaitCount(handled::sum, keys, s);
            Thread.sleep(10_000); // settle: balance, the last acks
            long cpu = OS.getProcessCpuTime();
            double redisCpu = redisCpu();
            long t = System.nanoTime();
            Thread.sleep(20_000);
            double wall = (System.nanoTime() - t) / 1e9;
            double perInstance = (OS.getProcessCpuTime() - cpu) / 1e9 / wall / instances;
            double server = (redisCpu() - redisCpu) / wall;
            Bench.row(String.format(Locale.ROOT, "idle, %,d keys over %d instances (lease TTL 15 s): CPU per "
                            + "instance; redis-server %.1f%% of a core", keys, instances, server * 100),
                    String.format(Locale.ROOT, "%.2f%% of a core", perInstance * 100), "", "< 5%",
                    perInstance < 0.05 ? "yes" : "NO");
        } finally {
            engines.forEach(CourierEngine::stop);
            brokers.forEach(Broker::close);
            List<String> all = new ArrayList<>();
            for (int k = 0; k < keys; k++) {
                all.add(s + ":" + k);
                all.add(Bench.GROUP + ":" + k + ":__generation__");
            }
            all.add(s + ":__partitions__");
            Bench.raw.del(all.toArray(String[]::new));
        }
    }

    /** The commands redis-server spent most on since the reset (INFO commandstats): calls and us per message. */
    private static String commands(int n) {
        List<String[]> stats = new ArrayList<>();
        for (String line : Bench.raw.info("commandstats").split("\r?\n")) {
            if (line.startsWith("cmdstat_")) {
                String name = line.substring(8, line.indexOf(':'));
                String calls = line.replaceAll(".*:calls=(\\d+).*", "$1");
                String usec = line.replaceAll(".*usec=(\\d+),.*", "$1");
                stats.add(new String[] {name, calls, usec});
            }
        }
        stats.sort((a, b) -> Long.compare(Long.parseLong(b[2]), Long.parseLong(a[2])));
        StringBuilder out = new StringBuilder();
        for (String[] s : stats.subList(0, Math.min(6, stats.size()))) {
            out.append(String.format(Locale.ROOT, "%s %,d calls %.2f us/msg; ", s[0], Long.parseLong(s[1]),
                    Long.parseLong(s[2]) / (double) n));
        }
        return out.toString();
    }

    /** redis-server's CPU seconds so far (INFO cpu). */
    private static double redisCpu() {
        double total = 0;
        for (String line : Bench.raw.info("cpu").split("\r?\n")) {
            if (line.startsWith("used_cpu_sys:") || line.startsWith("used_cpu_user:")) {
                total += Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
            }
        }
        return total;
    }
}
