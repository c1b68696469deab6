package dev.courier.telemetry;

import dev.courier.Message;
import dev.courier.engine.GroupMetrics;
import dev.courier.internal.telemetry.Telemetry;
import org.eclipse.microprofile.metrics.Counter;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricID;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;
import org.eclipse.microprofile.metrics.Tag;
import org.eclipse.microprofile.metrics.Timer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Metrics through MicroProfile Metrics (Payara 6: {@code /metrics}, application scope): counters and timers per
 * broker and stream (publishing) or broker, stream and group (handling), resolved once per stream or loop; lag,
 * pending entries and consumers as gauges over {@link dev.courier.engine.Engine#metrics()}, asked at most once a
 * second whatever the number of gauges scraped. MicroProfile Metrics has no traces. Loaded only where its API is
 * present.
 */
public final class MicroProfileMetricsTelemetry implements Telemetry {

    /** How long one reading of the groups' figures serves the gauges. */
    static final long SNAPSHOT_NANOS = 1_000_000_000L;

    private final MetricRegistry registry;
    private final List<MetricID> gauges = new ArrayList<>();

    public MicroProfileMetricsTelemetry(MetricRegistry registry) {
        this.registry = registry;
    }

    @Override
    public Sending sending(String broker, String provider, String stream) {
        Tag[] tags = {new Tag("broker", broker), new Tag("stream", stream),
                new Tag("system", OpenTelemetryTelemetry.system(provider))};
        Counter published = registry.counter(Metadata.builder().withName("courier.published")
                .withDescription("Messages published (stored by the broker)").build(), tags);
        Counter failed = registry.counter(Metadata.builder().withName("courier.publish.failures")
                .withDescription("Publishes that failed").build(), tags);
        Timer duration = registry.timer(Metadata.builder().withName("courier.publish.duration")
                .withDescription("Duration of publishing (one message, or a batch)").withUnit(MetricUnits.SECONDS)
                .build(), tags);
        Send send = new Send() {
            @Override
            public void end(long nanos, int stored, String id, Throwable error) {
                if (stored > 0) {
                    published.inc(stored);
                }
                if (error != null) {
                    failed.inc();
                }
                duration.update(Duration.ofNanos(nanos));
            }
        };
        return (count, traceparent) -> send;
    }

    @Override
    public Processing processing(String broker, String provider, String stream, String group) {
        Tag[] tags = {new Tag("broker", broker), new Tag("stream", stream), new Tag("group", group)};
        Counter handled = counter("courier.messages.handled", "Messages every matching handler processed", tags);
        Counter failed = counter("courier.messages.failed", "Handlings that threw", tags);
        Counter deadLettered = counter("courier.messages.dead_lettered", "Messages the consumer dead-lettered", tags);
        Counter halted = counter("courier.messages.halted",
                "Messages past max-retries that halted their key (partition-poison=halt), not dead-lettered", tags);
        Counter reconnects = counter("courier.reconnects", "Times the consumer reached its broker again", tags);
        Timer duration = registry.timer(Metadata.builder().withName("courier.handler.duration")
                .withDescription("Duration of handling a message").withUnit(MetricUnits.SECONDS).build(), tags);
        Settle deadLetter = error -> {
            if (error == null) {
                deadLettered.inc();
            }
        };
        Settle halt = error -> {
            if (error == null) {
                halted.inc();
            }
        };
        Process process = new Process() {
            @Override
            public Settle settle(Settlement settlement) {
                return settlement == Settlement.DEAD_LETTER ? deadLetter
                        : settlement == Settlement.HALT ? halt : Settle.NONE;
            }

            @Override
            public void end(long nanos, Throwable error) {
                duration.update(Duration.ofNanos(nanos));
                (error == null ? handled : failed).inc();
            }
        };
        return new Processing() {
            @Override
            public Process start(Message message) {
                return process;
            }

            @Override
            public void reconnected() {
                reconnects.inc();
            }
        };
    }

    private Counter counter(String name, String description, Tag[] tags) {
        return registry.counter(Metadata.builder().withName(name).withDescription(description).build(), tags);
    }

    @Override
    public void watch(Supplier<List<GroupMetrics>> groups) {
        Snapshot snapshot = new Snapshot(groups);
        for (GroupMetrics g : groups.get()) {
            Tag[] tags = {new Tag("broker", g.broker()), new Tag("stream", g.stream()), new Tag("group", g.group())};
            gauge("courier.consumer_group.lag", "Entries not yet delivered to the group, as the broker reports",
                    snapshot, g, GroupMetrics::lag, tags);
            gauge("courier.consumer_group.pending", "Entries delivered to the group and not acknowledged",
                    snapshot, g, GroupMetrics::pending, tags);
            gauge("courier.consumer_group.consumers", "Consumers of the group", snapshot, g,
                    m -> m.consumers() == null ? null : m.consumers().longValue(), tags);
        }
    }

    private void gauge(String name, String description, Snapshot snapshot, GroupMetrics group,
                       Function<GroupMetrics, Long> figure, Tag[] tags) {
        Metadata metadata = Metadata.builder().withName(name).withDescription(description).build();
        registry.gauge(metadata, () -> {
            GroupMetrics now = snapshot.find(group);
            Long value = now == null ? null : figure.apply(now);
            // Unknown (a lag Redis does not report): -1, as MicroProfile Metrics has no empty gauge.
            return value == null ? -1L : value;
        }, tags);
        gauges.add(new MetricID(name, tags));
    }

    @Override
    public void close() {
        gauges.forEach(registry::remove);
        gauges.clear();
    }

    /** The groups' figures, read again once they are a second old. */
    private static final class Snapshot {
        private final Supplier<List<GroupMetrics>> groups;
        private List<GroupMetrics> last;
        private long readAt;

        Snapshot(Supplier<List<GroupMetrics>> groups) {
            this.groups = groups;
        }

        synchronized GroupMetrics find(GroupMetrics group) {
            long now = System.nanoTime();
            if (last == null || now - readAt > SNAPSHOT_NANOS) {
                last = groups.get();
                readAt = now;
            }
            for (GroupMetrics g : last) {
                if (g.broker().equals(group.broker()) && g.stream().equals(group.stream())
                        && g.group().equals(group.group())) {
                    return g;
                }
            }
            return null;
        }
    }
}
