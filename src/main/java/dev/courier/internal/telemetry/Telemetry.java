package dev.courier.internal.telemetry;

import dev.courier.Message;
import dev.courier.engine.GroupMetrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * What brokers and the engine tell an observer (OpenTelemetry, MicroProfile Metrics): publishes, handlings, their
 * settlement, reconnects. The adapters in {@code dev.courier.telemetry} implement it where their API is present;
 * this interface names no such API, so the engine and the brokers load without one. Each {@code sending} and
 * {@code processing} is asked for once per stream or loop, so that an adapter resolves its instruments and
 * attributes then, not per message. Not API.
 */
public interface Telemetry {

    /** Observes nothing, at no cost. */
    Telemetry NONE = new Telemetry() {
    };

    /** The publishes of one broker to one stream. */
    default Sending sending(String broker, String provider, String stream) {
        return Sending.NONE;
    }

    /** The handlings of one consumption loop. */
    default Processing processing(String broker, String provider, String stream, String group) {
        return Processing.NONE;
    }

    /** The per-group figures to report as gauges and cumulative counts when the adapter collects; once, at start. */
    default void watch(Supplier<List<GroupMetrics>> groups) {
    }

    /** Releases what {@link #watch} registered; when the application stops. */
    default void close() {
    }

    /** Both, in order; {@link #NONE} left out. */
    static Telemetry of(List<Telemetry> all) {
        List<Telemetry> some = new ArrayList<>(all);
        some.removeIf(t -> t == null || t == NONE);
        return some.isEmpty() ? NONE : some.size() == 1 ? some.get(0) : new Both(some.get(0), of(some.subList(1, some.size())));
    }

    interface Sending {
        Sending NONE = (count, traceparent) -> Send.NONE;

        /**
         * A publish of {@code count} messages begins on this thread.
         *
         * @param traceparent the W3C traceparent the published message carries itself (a Protean event's), to
         *                    continue where the thread has no trace of its own; {@code null} when none
         */
        Send start(int count, String traceparent);
    }

    /** One publish (of one message, or a batch). */
    interface Send {
        Send NONE = new Send() {
        };

        /** The W3C trace context the messages carry ({@code traceparent}, {@code tracestate}); empty when none. */
        default Map<String, String> context() {
            return Map.of();
        }

        /**
         * The publish ended, after {@code nanos}.
         *
         * @param stored how many messages the broker stored
         * @param id     the message's id when one was published and stored, else {@code null}
         * @param error  why it failed, or {@code null}
         */
        default void end(long nanos, int stored, String id, Throwable error) {
        }
    }

    interface Processing {
        Processing NONE = new Processing() {
        };

        /** The handlers of a message are about to run on this thread. */
        default Process start(Message message) {
            return Process.NONE;
        }

        /** The loop reached its broker again after failing to. */
        default void reconnected() {
        }
    }

    /** The handling of one message; its settlement is reported before {@link #end}. */
    interface Process {
        Process NONE = new Process() {
        };

        /** The message is settled now, other than by the (batched) ack; end the returned one when done. */
        default Settle settle(Settlement settlement) {
            return Settle.NONE;
        }

        /** The handlers ended after {@code nanos}, with {@code error} ({@code null}: they succeeded). */
        default void end(long nanos, Throwable error) {
        }
    }

    /** How a message is settled, other than by an ack. */
    enum Settlement {
        /** Rejected: the broker delivers it again later. */
        NACK("nack"),
        /** Moved to the dead-letter queue: a payload that cannot be bound, or a rejection past max-retries. */
        DEAD_LETTER("dead_letter"),
        /** Given up on as for {@link #DEAD_LETTER}, where the broker keeps no dead letters (enable-dlq=false). */
        DISCARD("discard"),
        /**
         * Rejected past max-retries on a partitioned stream under {@code partition-poison=halt}: not dead-lettered,
         * the key stops on it until an operator acts.
         */
        HALT("halt");

        private final String operation;

        Settlement(String operation) {
            this.operation = operation;
        }

        /** The operation's name, as in {@code messaging.operation.name}. */
        public String operation() {
            return operation;
        }
    }

    /** One settlement under way. */
    interface Settle {
        Settle NONE = error -> {
        };

        /** It ended, with {@code error} ({@code null}: done). */
        void end(Throwable error);
    }

    /** Two observers as one. */
    record Both(Telemetry first, Telemetry second) implements Telemetry {

        @Override
        public Sending sending(String broker, String provider, String stream) {
            Sending a = first.sending(broker, provider, stream);
            Sending b = second.sending(broker, provider, stream);
            return (count, traceparent) -> {
                Send x = a.start(count, traceparent);
                Send y = b.start(count, traceparent);
                return new Send() {
                    @Override
                    public Map<String, String> context() {
                        Map<String, String> context = x.context();
                        return context.isEmpty() ? y.context() : context;
                    }

                    @Override
                    public void end(long nanos, int stored, String id, Throwable error) {
                        y.end(nanos, stored, id, error);
                        x.end(nanos, stored, id, error);
                    }
                };
            };
        }

        @Override
        public Processing processing(String broker, String provider, String stream, String group) {
            Processing a = first.processing(broker, provider, stream, group);
            Processing b = second.processing(broker, provider, stream, group);
            return new Processing() {
                @Override
                public Process start(Message message) {
                    Process x = a.start(message);
                    Process y = b.start(message);
                    return new Process() {
                        @Override
                        public Settle settle(Settlement settlement) {
                            Settle m = x.settle(settlement);
                            Settle n = y.settle(settlement);
                            return error -> {
                                n.end(error);
                                m.end(error);
                            };
                        }

                        @Override
                        public void end(long nanos, Throwable error) {
                            y.end(nanos, error);
                            x.end(nanos, error);
                        }
                    };
                }

                @Override
                public void reconnected() {
                    a.reconnected();
                    b.reconnected();
                }
            };
        }

        @Override
        public void watch(Supplier<List<GroupMetrics>> groups) {
            first.watch(groups);
            second.watch(groups);
        }

        @Override
        public void close() {
            second.close();
            first.close();
        }
    }
}
