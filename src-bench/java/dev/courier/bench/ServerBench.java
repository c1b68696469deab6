package dev.courier.bench;

import dev.courier.internal.engine.EngineSettings;
import dev.courier.it.AppServer;
import dev.courier.it.Servers;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.AbstractTransaction;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.resps.StreamGroupInfo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The in-server section ({@code mvn -B -Pbench,bench-server}): Open Liberty and Payara Micro, one after the other,
 * started through the integration tests' {@link Servers} with the benchmark WAR (the demo plus
 * {@code CountingSubscriber}, a {@code @Subscribe} handler that only counts) on the benchmark's redis-server.
 *
 * <p>A drain: {@code n} entries reach the stream "bench-server" at once (one MULTI/EXEC of pipelined XADDs, so that
 * the engine, already running and blocked in XREADGROUP, sees none of them before all are there), and the time is
 * taken from EXEC's reply until the group has read them all and has nothing pending. Rounds alternate with the raw
 * Jedis consume of the same backlog at the same batch size, and the Java SE engine is measured in the same run.
 *
 * <p>Then the demo's own subscriber gets {@code bench.server.orders} orders (1,000,000 by default) and the server's
 * live heap (after a full collection, through {@code jcmd}) is compared with its idle heap before them.
 */
final class ServerBench {

    static final String STREAM = "bench-server";
    static final String GROUP = "dev.courier.bench.server.CountingSubscriber";
    static final String ORDERS = "orders";
    static final String ORDERS_GROUP = "dev.courier.demo.OrderSubscriber";
    static final int WARM_UP_DRAINS = 3;
    static final int[] BATCH_SIZES = {10, 50, 100, 200};
    static final int FILL_TIMEOUT_MILLIS = 120_000;
    private static int port;
    static final long HEAP_GROWTH_LIMIT = 64L << 20;

    private ServerBench() {
    }

    static void run(RedisProcess redis) throws Exception {
        long start = System.nanoTime();
        port = redis.port();
        int n = Bench.n(200_000);
        String batchProperty = System.getProperty("bench.server.batch", "");
        int batch = batchProperty.isBlank() ? EngineSettings.DEFAULT_BATCH_SIZE : Integer.parseInt(batchProperty);
        int orders = Integer.getInteger("bench.server.orders", 1_000_000);
        // What the batch size costs in Java SE, for choosing the default.
        for (int size : BATCH_SIZES) {
            if (size != batch) {
                double[][] r = Bench.rounds(() -> Bench.rawConsume(n, size), () -> Bench.engineConsume(n, size));
                Bench.ratioRow("Java SE engine, no-op handler, " + n + " messages (batch " + size + ")",
                        Bench.median(r[1]), Bench.median(r[0]), "raw batch consume (COUNT " + size + ")", 0);
            }
        }
        long[] seCpu = new long[1];
        double[][] se = Bench.rounds(() -> Bench.rawConsume(n, batch), () -> {
            long cpu = cpuNanos(ProcessHandle.current().pid());
            double rate = Bench.engineConsume(n, batch);
            seCpu[0] += cpuNanos(ProcessHandle.current().pid()) - cpu;
            return rate;
        });
        double seRate = Bench.median(se[1]);
        double seMicros = seCpu[0] / 1e3 / ((long) n * se[1].length);
        Bench.row("raw Jedis XREADGROUP COUNT " + batch + " + one XACK per batch", Bench.rate(Bench.median(se[0])),
                "", "", "");
        Bench.ratioRow("Java SE engine, no-op handler, " + n + " messages (batch " + batch + ")", seRate,
                Bench.median(se[0]), "raw batch consume", 0);
        Bench.row("Java SE engine, CPU per message: the whole JVM", String.format(Locale.ROOT, "%.2f us",
                seMicros), "over its rounds only", "", "");
        try {
            // The two servers as users run them (the telemetry variant of Liberty is the telemetry section's).
            for (Servers.Kind kind : List.of(Servers.Kind.OPEN_LIBERTY, Servers.Kind.PAYARA_MICRO)) {
                AppServer server = Servers.acquire(kind, Map.of(
                        "BROKERS_DEFAULT_PROVIDER", "redis",
                        "BROKERS_DEFAULT_URI", redis.uri(),
                        "COURIER_ENGINE_BATCH_SIZE", Integer.toString(batch)));
                awaitGroup(STREAM, GROUP);
                for (int i = 0; i < WARM_UP_DRAINS; i++) {
                    drain(n);
                }
                // -Dbench.server.jfr=<folder> records the measured rounds of each server (for profiling).
                String jfr = System.getProperty("bench.server.jfr", "");
                if (!jfr.isBlank()) {
                    // -Dbench.server.jfr.settings=<file.jfc> for another sampling period than profile's 10-20 ms.
                    jcmd(jvm(server), "JFR.start name=bench settings="
                            + System.getProperty("bench.server.jfr.settings", "profile") + " filename="
                            + Path.of(jfr, kind.name().toLowerCase(Locale.ROOT) + ".jfr").toAbsolutePath());
                }
                long pid = jvm(server);
                long loopCpu = cpuNanos(pid, LOOP_THREAD);
                long processCpu = cpuNanos(pid);
                double[][] r = Bench.rounds(() -> Bench.rawConsume(n, batch), () -> drain(n));
                long messages = (long) n * r[1].length;
                double loopMicros = (cpuNanos(pid, LOOP_THREAD) - loopCpu) / 1e3 / messages;
                double processMicros = (cpuNanos(pid) - processCpu) / 1e3 / messages;
                if (!jfr.isBlank()) {
                    jcmd(jvm(server), "JFR.stop name=bench");
                }
                double rate = Bench.median(r[1]);
                double rawRate = Bench.median(r[0]);
                double ratio = rate / seRate;
                Bench.row(String.format(Locale.ROOT, "%s, counting @Subscribe handler, %,d messages (batch %d)",
                                server.name(), n, batch), Bench.rate(rate),
                        String.format(Locale.ROOT, "%.2fx raw batch consume (%s); %.2fx Java SE engine",
                                rate / rawRate, Bench.rate(rawRate), ratio),
                        ">= 0.8x Java SE engine", ratio >= 0.8 ? "yes" : "NO");
                Bench.row(server.name() + ", CPU per message: the loop thread / the whole server",
                        String.format(Locale.ROOT, "%.2f / %.2f us", loopMicros, processMicros),
                        String.format(Locale.ROOT, "%.2fx the Java SE engine's JVM (whole server; it idles in the "
                                + "raw rounds)", processMicros / seMicros), "", "");
                if (orders > 0) {
                    demoHeap(server, orders);
                }
                server.stop();
            }
        } finally {
            Servers.stopAll();
        }
        Bench.progress("server", start);
    }

    /** Puts n entries on the stream at once and gives n per second until the group has them all acknowledged. */
    private static double drain(int n) throws InterruptedException {
        StreamEntryID last;
        // A connection of its own: EXEC of n XADDs can take longer than the pool's 2 s timeout on a busy machine.
        try (Jedis filler = new Jedis(RedisProcess.HOST, port, FILL_TIMEOUT_MILLIS);
             AbstractTransaction transaction = filler.multi()) {
            for (int i = 0; i < n; i++) {
                transaction.xadd(STREAM, Bench.XADD, Bench.FIELDS);
            }
            List<Object> ids = transaction.exec();
            last = (StreamEntryID) ids.get(ids.size() - 1);
        }
        long t = System.nanoTime();
        awaitDone(STREAM, GROUP, last, t);
        double rate = n / ((System.nanoTime() - t) / 1e9);
        Bench.raw.xtrim(STREAM, redis.clients.jedis.params.XTrimParams.xTrimParams().maxLen(0));
        return rate;
    }

    /** Waits until the group has read up to last and has nothing pending. */
    private static void awaitDone(String stream, String group, StreamEntryID last, long t)
            throws InterruptedException {
        while (true) {
            StreamGroupInfo info = group(stream, group);
            if (info != null && info.getPending() == 0 && info.getLastDeliveredId().compareTo(last) >= 0) {
                return;
            }
            Thread.sleep(2);
            if (System.nanoTime() - t > TimeUnit.SECONDS.toNanos(600)) {
                throw new IllegalStateException(stream + ": group " + group + " not done within 600 s: " + (info
                        == null ? "no group" : info.getGroupInfo()));
            }
        }
    }

    private static void awaitGroup(String stream, String group) throws InterruptedException {
        long t = System.nanoTime();
        while (group(stream, group) == null) {
            Thread.sleep(50);
            if (System.nanoTime() - t > TimeUnit.SECONDS.toNanos(60)) {
                throw new IllegalStateException("the server made no group " + group + " on " + stream);
            }
        }
    }

    private static StreamGroupInfo group(String stream, String group) {
        try {
            return Bench.raw.xinfoGroups(stream).stream().filter(g -> g.getName().equals(group)).findFirst()
                    .orElse(null);
        } catch (JedisDataException e) {
            return null; // no stream yet
        }
    }

    /** The demo's subscriber handles the orders; the server's live heap after them against its idle heap. */
    private static void demoHeap(AppServer server, int orders) throws Exception {
        long t0 = System.nanoTime();
        awaitGroup(ORDERS, ORDERS_GROUP);
        long jvm = jvm(server);
        long idle = liveHeap(jvm);
        StreamEntryID last = null;
        int chunk = 1000;
        for (int sent = 0; sent < orders; sent += chunk) {
            try (AbstractPipeline p = Bench.raw.pipelined()) {
                List<redis.clients.jedis.Response<StreamEntryID>> ids = new ArrayList<>();
                for (int i = sent; i < Math.min(orders, sent + chunk); i++) {
                    ids.add(p.xadd(ORDERS, Bench.XADD, Map.of("data",
                            "{\"event_type\":\"order.placed\",\"order_id\":\"" + i + "\",\"amount\":" + i % 100 + "}")));
                }
                p.sync();
                last = ids.get(ids.size() - 1).get();
            }
        }
        long t = System.nanoTime();
        awaitDone(ORDERS, ORDERS_GROUP, last, t0);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long after = liveHeap(jvm);
        long growth = after - idle;
        Bench.row(String.format(Locale.ROOT, "%s, the demo's live heap after %,d orders handled (after GC)",
                        server.name(), orders), Bench.mb(Math.max(0, growth)) + " above idle",
                String.format(Locale.ROOT, "idle %s, after %s; %s through the demo's subscriber",
                        Bench.mb(idle), Bench.mb(after), Bench.rate(orders / seconds)),
                "< 64 MB", growth < HEAP_GROWTH_LIMIT ? "yes" : "NO");
        Bench.raw.del(ORDERS);
        System.err.printf(Locale.ROOT, "    %s: %,d orders in %.1f s (send %.1f s)%n", server.name(), orders,
                seconds, (t - t0) / 1e9);
    }

    /** The kernel's name of the subscriber's loop thread ("courier-default-bench-server-..."), cut to 15 bytes. */
    private static final String LOOP_THREAD = "courier-default";
    /** Linux counts CPU time in /proc in ticks of 1/100 s (USER_HZ). */
    private static final long NANOS_PER_TICK = 10_000_000L;

    /** The CPU time (user and system) a process has used, its ended threads included. */
    private static long cpuNanos(long pid) throws IOException {
        return ticks(Files.readString(Path.of("/proc", Long.toString(pid), "stat"))) * NANOS_PER_TICK;
    }

    /** The CPU time of the process's live threads whose name starts with the prefix. */
    private static long cpuNanos(long pid, String prefix) throws IOException {
        long ticks = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks) {
                String stat;
                try {
                    stat = Files.readString(task.resolve("stat"));
                } catch (NoSuchFileException e) {
                    continue; // the thread ended
                }
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                if (name.startsWith(prefix)) {
                    ticks += ticks(stat);
                }
            }
        }
        return ticks * NANOS_PER_TICK;
    }

    /** utime plus stime of a /proc stat line: fields 14 and 15, counted from the pid. */
    private static long ticks(String stat) {
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }

    /** The server's JVM: its process, or the java process under it (a start script). */
    private static long jvm(AppServer server) {
        ProcessHandle process = server.processHandle().orElseThrow();
        if (isJava(process)) {
            return process.pid();
        }
        return process.descendants().filter(ServerBench::isJava).findFirst().orElseThrow(
                () -> new IllegalStateException(server.name() + ": no java process under " + process.pid())).pid();
    }

    private static boolean isJava(ProcessHandle process) {
        return process.info().command().map(c -> c.endsWith("/java")).orElse(false);
    }

    private static final Pattern USED = Pattern.compile("total \\d+K, used (\\d+)K");

    /** The live heap of a JVM: a full collection, then the sum of its spaces' used sizes (GC.heap_info). */
    private static long liveHeap(long pid) throws IOException, InterruptedException {
        jcmd(pid, "GC.run");
        String info = jcmd(pid, "GC.heap_info");
        Matcher matcher = USED.matcher(info);
        long used = 0;
        boolean found = false;
        while (matcher.find()) {
            used += Long.parseLong(matcher.group(1)) << 10;
            found = true;
        }
        if (!found) {
            throw new IllegalStateException("cannot read the heap of process " + pid + " from:\n" + info);
        }
        return used;
    }

    private static String jcmd(long pid, String command) throws IOException, InterruptedException {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        Process process = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true)
                .start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
            process.destroyForcibly();
            throw new IllegalStateException("jcmd " + pid + " " + command + " failed: " + out);
        }
        return out;
    }
}
