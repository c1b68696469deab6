package dev.courier.internal.engine;

import java.util.ArrayList;
import java.util.List;

/**
 * The ids of handled messages whose ack is not sent yet, and how long the oldest has waited: acks go together with
 * the next read, or sooner once the oldest has waited too long. Not thread-safe: its owner guards it.
 */
final class Acks {

    private final List<String> ids = new ArrayList<>();
    private long oldestAt;

    void add(String id) {
        if (ids.isEmpty()) {
            oldestAt = System.nanoTime();
        }
        ids.add(id);
    }

    /** Whether the oldest waiting ack has waited {@code nanos}. */
    boolean olderThan(long nanos) {
        return !ids.isEmpty() && System.nanoTime() - oldestAt >= nanos;
    }

    /** The acks waiting, taken: whoever sends them owns them (if the broker fails, they stay pending there). */
    List<String> take() {
        if (ids.isEmpty()) {
            return List.of();
        }
        List<String> taken = List.copyOf(ids);
        ids.clear();
        return taken;
    }
}
