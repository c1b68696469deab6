package dev.courier.demo;

import jakarta.enterprise.context.ApplicationScoped;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;

/**
 * What the demo's subscriber did with its last {@value #KEPT} deliveries, newest last: handled, or failed (and so
 * retried, and dead-lettered once the broker gives up on it). {@code GET /api/received} shows it. Older entries are
 * dropped, so that it stays small and fast however long the application runs.
 */
@ApplicationScoped
public class Inbox {

    static final int KEPT = 1000;

    /** One delivery to the subscriber. {@code error} is null when it was handled. */
    public record Entry(String stream, Map<String, Object> payload, boolean handled, String error, Instant at) {
    }

    private final ArrayDeque<Entry> entries = new ArrayDeque<>(KEPT);

    public void handled(String stream, Map<String, Object> payload) {
        add(new Entry(stream, payload, true, null, Instant.now()));
    }

    public void failed(String stream, Map<String, Object> payload, String error) {
        add(new Entry(stream, payload, false, error, Instant.now()));
    }

    public synchronized List<Entry> entries() {
        return List.copyOf(entries);
    }

    private synchronized void add(Entry entry) {
        if (entries.size() == KEPT) {
            entries.removeFirst();
        }
        entries.addLast(entry);
    }
}
