package dev.courier.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.Message;
import dev.courier.engine.EngineMode;
import dev.courier.internal.engine.CircuitBreakerSettings;
import dev.courier.internal.engine.Concurrency;
import dev.courier.internal.engine.CourierEngine;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.internal.engine.Subscription;
import dev.courier.internal.telemetry.Telemetry;
import dev.courier.spi.AbstractBroker;
import dev.courier.telemetry.OpenTelemetryTelemetry;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.StreamEntryID;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * The cost of telemetry (section "telemetry"): the engine's no-op consume and publishAll on Redis with nothing
 * observing, with OpenTelemetry metrics (SDK, in-memory reader), and with tracing and metrics (SDK, in-memory span
 * exporter behind the batch processor servers use, its queue large enough that no span is dropped: the count is
 * checked), in one run, rounds alternating.
 */
final class TelemetryBench {

    private enum Mode {
        OFF("telemetry off"), METRICS("OpenTelemetry metrics on"), TRACING("OpenTelemetry tracing and metrics on");

        final String label;

        Mode(String label) {
            this.label = label;
        }
    }

    /** The JVM's CPU time (all its threads: the loop, the SDK's span processor, the bench's polling). */
    private static final OperatingSystemMXBean OS =
            (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    /** One round's figures: messages per second, and the JVM's CPU microseconds per message (less noisy when the
     * machine is shared: another process's load slows the rate but does not add to this). */
    private record Round(double rate, double cpuMicros) {
    }

    /**
     * More rounds than the other sections: the differences measured are a few percent, and the runs short (half a
     * second), so that the load of a shared machine moves single rounds by more than that.
     */
    private static final int ROUNDS = 9;

    private TelemetryBench() {
    }

    static void run() throws Exception {
        long start = System.nanoTime();
        int consumed = Bench.n(200_000);
        int published = Bench.n(300_000);
        Mode[] modes = Mode.values();
        double[][] consume = new double[modes.length][ROUNDS];
        double[][] consumeCpu = new double[modes.length][ROUNDS];
        double[][] publish = new double[modes.length][ROUNDS];
        double[][] publishCpu = new double[modes.length][ROUNDS];
        for (Mode mode : modes) {
            // Warm-up: the observed paths compiled before any round counts.
            consume(mode, consumed / 4);
            publishAll(mode, published / 4);
        }
        for (int i = 0; i < ROUNDS; i++) {
            // Each round begins with another mode, so that none is always first after the fill or a GC.
            for (int k = 0; k < modes.length; k++) {
                Mode mode = modes[(i + k) % modes.length];
                System.gc();
                Round r = consume(mode, consumed);
                consume[mode.ordinal()][i] = r.rate();
                consumeCpu[mode.ordinal()][i] = r.cpuMicros();
            }
            for (int k = 0; k < modes.length; k++) {
                Mode mode = modes[(i + k) % modes.length];
                System.gc();
                Round r = publishAll(mode, published);
                publish[mode.ordinal()][i] = r.rate();
                publishCpu[mode.ordinal()][i] = r.cpuMicros();
            }
        }
        for (Mode mode : modes) {
            int m = mode.ordinal();
            System.err.printf(Locale.ROOT, "    rounds consume %s:%s; JVM CPU us/msg:%s (median %.2f)%n"
                            + "    rounds publishAll %s:%s; JVM CPU us/msg:%s (median %.2f)%n", mode.label,
                    line(consume[m]), cpus(consumeCpu[m]), Bench.median(consumeCpu[m]), mode.label, line(publish[m]),
                    cpus(publishCpu[m]), Bench.median(publishCpu[m]));
        }
        double consumeOff = Bench.median(consume[0]);
        double publishOff = Bench.median(publish[0]);
        String engine = "Courier engine, no-op handler, " + consumed + " messages (batch " + Bench.BATCH + "), ";
        Bench.row(engine + Mode.OFF.label, Bench.rate(consumeOff), "", "", "");
        ratioRow(engine + Mode.METRICS.label, Bench.median(consume[1]), consumeOff, 0.95);
        ratioRow(engine + Mode.TRACING.label, Bench.median(consume[2]), consumeOff, 0.7);
        String all = "Courier publishAll x" + Bench.BATCH + ", ";
        Bench.row(all + Mode.OFF.label, Bench.rate(publishOff), "", "", "");
        ratioRow(all + Mode.METRICS.label, Bench.median(publish[1]), publishOff, 0.95);
        ratioRow(all + Mode.TRACING.label, Bench.median(publish[2]), publishOff, 0.7);
        Bench.progress("telemetry", start);
    }

    /** As Bench's, with the target to two places (0.95). */
    private static void ratioRow(String what, double value, double off, double target) {
        double ratio = value / off;
        Bench.row(what, Bench.rate(value), String.format(Locale.ROOT, "%.2fx telemetry off", ratio),
                String.format(Locale.ROOT, ">= %.2fx", target), ratio >= target ? "yes" : "NO");
    }

    private static String cpus(double[] values) {
        StringBuilder text = new StringBuilder();
        for (double v : values) {
            text.append(String.format(Locale.ROOT, " %.2f", v));
        }
        return text.toString();
    }

    private static String line(double[] values) {
        StringBuilder text = new StringBuilder();
        for (double v : values) {
            text.append(String.format(Locale.ROOT, " %,.0f", v));
        }
        return text.toString();
    }

    /** The SDK with in-memory exporters, and Courier's adapter on it; nothing for OFF. */
    private static final class Observed implements AutoCloseable {
        final InMemorySpanExporter spans = InMemorySpanExporter.create();
        final InMemoryMetricReader metrics = InMemoryMetricReader.create();
        final OpenTelemetrySdk sdk;
        final Telemetry telemetry;

        Observed(Mode mode) {
            if (mode == Mode.OFF) {
                sdk = null;
                telemetry = Telemetry.NONE;
                return;
            }
            sdk = OpenTelemetrySdk.builder()
                    .setTracerProvider(SdkTracerProvider.builder()
                            .addSpanProcessor(BatchSpanProcessor.builder(spans).setMaxQueueSize(1 << 20)
                                    .setScheduleDelay(Duration.ofMillis(200)).build()).build())
                    .setMeterProvider(SdkMeterProvider.builder().registerMetricReader(metrics).build())
                    .build();
            telemetry = new OpenTelemetryTelemetry(sdk, mode == Mode.TRACING, true);
        }

        @Override
        public void close() {
            if (sdk != null) {
                metrics.collectAllMetrics(); // an export, as a periodic reader would make
                telemetry.close();
                sdk.close();
            }
        }
    }

    /**
     * Handles a backlog of n entries; traced, each entry carries a traceparent, as a traced publisher leaves it (the
     * same for each batch of 100, as one publishAll's entries share its send span).
     */
    private static Round consume(Mode mode, int n) throws InterruptedException {
        String s = Bench.stream("telemetry-consume");
        Map<String, String> fields = Bench.FIELDS;
        for (int sent = 0; sent < n; sent += Bench.BATCH) {
            if (mode == Mode.TRACING) {
                // One trace context per batch of 100, as a traced publishAll x100 leaves them: one send span each.
                fields = new LinkedHashMap<>(Bench.FIELDS);
                fields.put("traceparent", String.format(Locale.ROOT, "00-4bf92f3577b34da6%016x-00f067aa0ba902b7-01",
                        System.nanoTime()));
            }
            try (AbstractPipeline p = Bench.raw.pipelined()) {
                for (int i = 0; i < Bench.BATCH; i++) {
                    p.xadd(s, Bench.XADD, fields);
                }
                p.sync();
            }
        }
        Bench.raw.xgroupCreate(s, Bench.GROUP, new StreamEntryID(), false);
        LongAdder handled = new LongAdder();
        Broker broker = Bench.redisBroker();
        try (Observed observed = new Observed(mode)) {
            EngineSettings settings = new EngineSettings(true, EngineMode.ASYNC, Bench.BATCH, Duration.ofSeconds(1),
                    Duration.ofSeconds(10), Bench.CONSUMER);
            CourierEngine engine = CourierEngine.create(settings, new Brokers(Map.of("default", broker)),
                    List.of(new Subscription("default", s, Bench.GROUP, "", Message.class, "TelemetryBench.handle",
                            argument -> handled.increment(), CircuitBreakerSettings.OFF, Concurrency.SEQUENTIAL)),
                    observed.telemetry);
            long cpu = OS.getProcessCpuTime();
            long t = System.nanoTime();
            engine.start();
            try {
                Bench.awaitDrained(handled::sum, n, s, t);
                double rate = n / ((System.nanoTime() - t) / 1e9);
                double cpuMicros = (OS.getProcessCpuTime() - cpu) / 1e3 / n;
                if (mode == Mode.TRACING) {
                    observed.sdk.getSdkTracerProvider().forceFlush().join(30, java.util.concurrent.TimeUnit.SECONDS);
                }
                if (mode == Mode.TRACING && observed.spans.getFinishedSpanItems().size() < n) {
                    throw new IllegalStateException(s + ": " + observed.spans.getFinishedSpanItems().size()
                            + " spans for " + n + " messages");
                }
                return new Round(rate, cpuMicros);
            } finally {
                engine.stop();
            }
        } finally {
            broker.close();
            Bench.raw.del(s);
        }
    }

    private static Round publishAll(Mode mode, int n) {
        String s = Bench.stream("telemetry-publish-all");
        List<Map<String, Object>> batch = Collections.nCopies(Bench.BATCH, Bench.PAYLOAD);
        Broker broker = Bench.redisBroker();
        try (Observed observed = new Observed(mode)) {
            ((AbstractBroker) broker).useTelemetry(observed.telemetry);
            long cpu = OS.getProcessCpuTime();
            long t = System.nanoTime();
            for (int sent = 0; sent < n; sent += Bench.BATCH) {
                broker.publishAll(s, batch);
            }
            double rate = n / ((System.nanoTime() - t) / 1e9);
            double cpuMicros = (OS.getProcessCpuTime() - cpu) / 1e3 / n;
            long length = Bench.raw.xlen(s);
            if (length != n) {
                throw new IllegalStateException(s + " holds " + length + " entries, not " + n);
            }
            return new Round(rate, cpuMicros);
        } finally {
            broker.close();
            Bench.raw.del(s);
        }
    }
}
