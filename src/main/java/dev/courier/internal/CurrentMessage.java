package dev.courier.internal;

import dev.courier.Message;

/**
 * The message whose handlers run on the current thread, set by the engine around each handling, so that an event
 * published meanwhile carries its correlation and causation ids. Not API.
 */
public final class CurrentMessage {

    private static final ThreadLocal<Message> CURRENT = new ThreadLocal<>();

    private CurrentMessage() {
    }

    /** The message being handled on this thread, or {@code null}. */
    public static Message get() {
        return CURRENT.get();
    }

    /**
     * Makes {@code message} the one being handled ({@code null}: none) and gives back the one it replaces, to be
     * restored afterwards: a synchronous publish runs handlers inside a handler.
     */
    public static Message set(Message message) {
        Message previous = CURRENT.get();
        // null is set, not the entry removed: removing it and making it again for each message cost the consume
        // loop a tenth of its time (ThreadLocalMap's clean-up). An entry whose value is null holds nothing of the
        // application's (its key, the ThreadLocal, is weakly held), so a pooled server thread keeps no class loader.
        CURRENT.set(message);
        return previous;
    }
}
