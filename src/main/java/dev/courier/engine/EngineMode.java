package dev.courier.engine;

import java.util.Locale;

/** How published messages reach subscribers ({@code courier.engine.mode}). */
public enum EngineMode {
    /** Loops on their own threads read and dispatch. */
    ASYNC,
    /**
     * As {@link #ASYNC}, and a publish on an {@code inline} broker also runs the matching subscribers in the
     * publishing thread before it returns.
     */
    SYNC;

    /** {@code async} or {@code sync}, as configured. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
