package dev.courier.demo;

import jakarta.enterprise.context.ApplicationScoped;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What the demo's subscriber did with each delivery, newest last: handled, or failed (and so retried, and
 * dead-lettered once the broker gives up on it). {@code GET /api/received} shows it.
 */
@ApplicationScoped
public class Inbox {

    /** One delivery to the subscriber. {@code error} is null when it was handled. */
    public record Entry(String stream, Map<String, Object> payload, boolean handled, String error, Instant at) {
    }

    private final List<Entry> entries = new CopyOnWriteArrayList<>();

    public void handled(String stream, Map<String, Object> payload) {
        entries.add(new Entry(stream, payload, true, null, Instant.now()));
    }

    public void failed(String stream, Map<String, Object> payload, String error) {
        entries.add(new Entry(stream, payload, false, error, Instant.now()));
    }

    public List<Entry> entries() {
        return List.copyOf(entries);
    }
}
