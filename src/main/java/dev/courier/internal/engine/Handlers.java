package dev.courier.internal.engine;

import dev.courier.Message;
import dev.courier.internal.CurrentMessage;
import dev.courier.internal.telemetry.Telemetry;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/**
 * The subscriber methods of one loop, and a message's run through those that want it: bound to their parameters,
 * invoked in turn with the message current, timed and observed. Both ways a loop runs messages (one at a time in its
 * thread, and in workers) run them here, and settle the outcome their own way.
 */
final class Handlers {

    private static final System.Logger LOG = System.getLogger("dev.courier.engine");

    /** How many types of skipped messages are logged, each once. */
    static final int MAX_SKIPPED_TYPES = 1000;

    /** How a message's run ended. */
    enum Outcome {
        /** No handler wants its type: to be acknowledged. */
        SKIPPED,
        /** A handler cannot take its payload: dead-lettered (or rejected) already. */
        UNBINDABLE,
        /** Every handler returned: to be acknowledged. */
        HANDLED,
        /** A handler threw: settled by the {@link Failure} during the run. */
        FAILED
    }

    /** Settles a failed handling; called during the run, so that the settling is timed and observed with it. */
    interface Failure {
        void settle(ConsumptionLoop.Handler handler, Throwable error, Telemetry.Process observed);
    }

    private final List<ConsumptionLoop.Handler> handlers;
    /** Whether every handler takes messages of any type. */
    private final boolean anyType;
    private final Rejections rejections;
    /** The loop, as its log lines name it. */
    private final Object loop;
    /** Told of each handling; set before the loop starts. */
    private Telemetry.Processing observer = Telemetry.Processing.NONE;
    final LongAdder skipped = new LongAdder();
    final LongAdder handlings = new LongAdder();
    final LongAdder handlerNanos = new LongAdder();
    final LongAccumulator longestHandling = new LongAccumulator(Math::max, 0);
    /** The types of skipped messages logged so far; bounded, as the types come from the stream. */
    private final Set<String> skippedTypes = ConcurrentHashMap.newKeySet();

    Handlers(List<ConsumptionLoop.Handler> handlers, Rejections rejections, Object loop) {
        this.handlers = List.copyOf(handlers);
        this.anyType = this.handlers.stream().allMatch(h -> h.subscription().type().isEmpty());
        this.rejections = rejections;
        this.loop = loop;
    }

    /** Reports the handlings to {@code observer}; before the loop starts. */
    void observe(Telemetry.Processing observer) {
        this.observer = observer;
    }

    boolean usesJsonb() {
        return handlers.stream().anyMatch(h -> h.binder().usesJsonb());
    }

    /** The circuit breaker's settings come from the first handler: the methods of a loop declare the same one. */
    ConsumptionLoop.Handler first() {
        return handlers.get(0);
    }

    /**
     * Runs the handlers that want the message. An {@link OutOfMemoryError} is thrown on (not the message's failure,
     * and too little memory may be left to settle it); any other error of a handler, a StackOverflowError included
     * (its stack is unwound by now), is a failed handling, given to {@code failure}.
     */
    Outcome run(Message message, Failure failure) {
        List<ConsumptionLoop.Handler> matching = matching(message);
        if (matching.isEmpty()) {
            skipped.increment();
            logSkipped(message);
            return Outcome.SKIPPED;
        }
        Telemetry.Process observed = observer.start(message);
        long started = System.nanoTime();
        Throwable error = null;
        // What the handlers publish meanwhile is linked to this message (DomainEvent.of).
        Message outer = CurrentMessage.set(message);
        try {
            Object[] arguments;
            try {
                arguments = bind(message, matching, observed);
            } catch (PayloadBinder.BindingException e) {
                error = e;
                return Outcome.UNBINDABLE;
            }
            ConsumptionLoop.Handler running = null;
            try {
                for (int i = 0; i < arguments.length; i++) {
                    running = matching.get(i);
                    running.subscription().invoker().invoke(arguments[i]);
                }
            } catch (OutOfMemoryError e) {
                error = e;
                throw e;
            } catch (Throwable e) {
                error = e;
                failure.settle(running, e, observed);
                return Outcome.FAILED;
            }
            return Outcome.HANDLED;
        } finally {
            CurrentMessage.set(outer);
            timed(observed, started, error);
        }
    }

    /** The handlers that want the message: all of them, without a list per message, when none names a type. */
    private List<ConsumptionLoop.Handler> matching(Message message) {
        if (anyType) {
            return handlers;
        }
        List<ConsumptionLoop.Handler> matching = new ArrayList<>(handlers.size());
        for (ConsumptionLoop.Handler handler : handlers) {
            if (handler.wants(message)) {
                matching.add(handler);
            }
        }
        return matching;
    }

    /** The handlers' arguments; a payload one of them cannot take is dead-lettered, and the exception thrown on. */
    private Object[] bind(Message message, List<ConsumptionLoop.Handler> matching, Telemetry.Process observed) {
        Object[] arguments = new Object[matching.size()];
        for (int i = 0; i < arguments.length; i++) {
            try {
                arguments[i] = matching.get(i).binder().bind(message);
            } catch (PayloadBinder.BindingException e) {
                rejections.deadLetter(message, matching.get(i), e.getMessage(), observed);
                throw e;
            }
        }
        return arguments;
    }

    /** Counts a handling's time, and tells the observer it ended; what fails in the observer stays there. */
    private void timed(Telemetry.Process observed, long started, Throwable failure) {
        long nanos = System.nanoTime() - started;
        handlings.increment();
        handlerNanos.add(nanos);
        longestHandling.accumulate(nanos);
        try {
            observed.end(nanos, failure);
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "telemetry failed", e);
        }
    }

    /** Once per type (up to {@link #MAX_SKIPPED_TYPES}), so that a typo in a type can be found. */
    private void logSkipped(Message message) {
        if (!LOG.isLoggable(Level.DEBUG) || skippedTypes.size() >= MAX_SKIPPED_TYPES) {
            return;
        }
        String type = message.type();
        if (skippedTypes.add(type == null ? "" : type)) {
            LOG.log(Level.DEBUG, "{0}: no method wants messages of type {1} (message {2}); acknowledged and skipped. "
                    + "Types wanted: {3}. Further messages of this type are only counted (skipped){4}", loop,
                    type == null ? "(none: no metadata.headers.type, event_type or type)" : "'" + type + "'",
                    ConsumptionLoop.id(message), handlers.stream().map(h -> h.subscription().type().isEmpty() ? "(any)"
                            : "'" + h.subscription().type() + "'").distinct().toList(),
                    skippedTypes.size() == MAX_SKIPPED_TYPES ? "; no further types are logged" : "");
        }
    }
}
