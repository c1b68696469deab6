package dev.courier.internal.telemetry;

import java.util.Map;

/**
 * The trace context of the publish running on this thread, for the adapter to write with the messages (on Redis, a
 * stream field after {@code data}). Set by {@link dev.courier.spi.AbstractBroker} only while a publish is traced.
 * Not API.
 */
public final class Outgoing {

    private static final ThreadLocal<Map<String, String>> CONTEXT = new ThreadLocal<>();

    private Outgoing() {
    }

    /** The context of the traced publish on this thread; empty when none. */
    public static Map<String, String> context() {
        Map<String, String> context = CONTEXT.get();
        return context == null ? Map.of() : context;
    }

    /** Makes {@code context} the current one and gives back the one it replaces (a publish inside a handler's). */
    static Map<String, String> set(Map<String, String> context) {
        Map<String, String> previous = CONTEXT.get();
        if (context == null) {
            CONTEXT.remove();
        } else {
            CONTEXT.set(context);
        }
        return previous;
    }
}
