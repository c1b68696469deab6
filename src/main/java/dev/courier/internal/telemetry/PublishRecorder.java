package dev.courier.internal.telemetry;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * One broker's publishes: counted and timed per stream (for {@code healthStats()}), and told to its
 * {@link Telemetry}, whose per-stream {@link Telemetry.Sending} is resolved at the stream's first publish. Not API.
 */
public final class PublishRecorder {

    private final String broker;
    private final String provider;
    private final Map<String, Stream> streams = new ConcurrentHashMap<>();
    private volatile Telemetry telemetry = Telemetry.NONE;

    public PublishRecorder(String broker, String provider) {
        this.broker = broker;
        this.provider = provider;
    }

    /** Reports publishes to {@code telemetry} from now on. */
    public void use(Telemetry telemetry) {
        this.telemetry = telemetry == null ? Telemetry.NONE : telemetry;
        streams.forEach((name, stream) -> stream.sending = this.telemetry.sending(broker, provider, name));
    }

    public boolean traced() {
        return telemetry != Telemetry.NONE;
    }

    /**
     * A publish of {@code count} messages to {@code stream} begins on this thread; end it with {@link Publish#end}.
     *
     * @param traceparent the one the published message carries itself (a Protean event's), or {@code null}
     */
    public Publish start(String stream, int count, String traceparent) {
        Stream s = streams.get(stream);
        if (s == null) {
            s = streams.computeIfAbsent(stream, name -> new Stream(telemetry.sending(broker, provider, name)));
        }
        Telemetry.Send send = s.sending.start(count, traceparent);
        Map<String, String> context = send.context();
        if (context.isEmpty()) {
            return new Publish(s, send, context, false, null);
        }
        return new Publish(s, send, context, true, Outgoing.set(context));
    }

    /** Per stream: messages published and failed, and the publishes' time, for health data. */
    public Map<String, Object> details() {
        Map<String, Object> details = new TreeMap<>();
        streams.forEach((name, s) -> {
            Map<String, Object> figures = new LinkedHashMap<>();
            figures.put("messages", s.messages.sum());
            figures.put("failed_publishes", s.failures.sum());
            figures.put("publishes", s.publishes.sum());
            figures.put("publish_time_ms", s.nanos.sum() / 1_000_000);
            details.put(name, figures);
        });
        return details;
    }

    private static final class Stream {
        volatile Telemetry.Sending sending;
        final LongAdder messages = new LongAdder();
        final LongAdder publishes = new LongAdder();
        final LongAdder failures = new LongAdder();
        final LongAdder nanos = new LongAdder();

        Stream(Telemetry.Sending sending) {
            this.sending = sending;
        }
    }

    /** One publish under way. */
    public static final class Publish {
        private final Stream stream;
        private final Telemetry.Send send;
        private final Map<String, String> context;
        private final boolean contextSet;
        private final Map<String, String> outer;
        private final long start = System.nanoTime();

        private Publish(Stream stream, Telemetry.Send send, Map<String, String> context, boolean contextSet,
                        Map<String, String> outer) {
            this.stream = stream;
            this.send = send;
            this.context = context;
            this.contextSet = contextSet;
            this.outer = outer;
        }

        /** The trace context the messages carry; empty when the publish is not traced. */
        public Map<String, String> context() {
            return context;
        }

        /**
         * @param stored how many messages were stored
         * @param id     the id of the one message published, or {@code null}
         * @param error  why the publish failed, or {@code null}
         */
        public void end(int stored, String id, Throwable error) {
            long nanos = System.nanoTime() - start;
            if (contextSet) {
                Outgoing.set(outer);
            }
            stream.publishes.increment();
            stream.messages.add(stored);
            stream.nanos.add(nanos);
            if (error != null) {
                stream.failures.increment();
            }
            send.end(nanos, stored, id, error);
        }
    }
}
