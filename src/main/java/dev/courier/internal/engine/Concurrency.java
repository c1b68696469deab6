package dev.courier.internal.engine;

import dev.courier.Subscribe;

import java.util.Objects;

/**
 * How a loop runs its handlers: how many at once, what waits for what, and how many messages it holds.
 *
 * @param workers     handlers at once; 0 for the engine's default ({@code courier.engine.concurrency})
 * @param ordering    what waits for what, above one worker
 * @param key         under {@code KEY}, the payload field that holds the key; empty for a Protean message's stream
 * @param maxInFlight the most messages held at once; 0 for {@link #defaultMaxInFlight}
 */
public record Concurrency(int workers, Subscribe.Ordering ordering, String key, int maxInFlight) {

    /** As {@code @Subscribe} declares by default: the engine's concurrency, KEY ordering by the Protean stream. */
    public static final Concurrency DEFAULT = new Concurrency(0, Subscribe.Ordering.KEY, "", 0);

    /** One at a time, in stream order. */
    public static final Concurrency SEQUENTIAL = new Concurrency(1, Subscribe.Ordering.STREAM, "", 0);

    /** Handler threads per loop at most: each is a thread of the server's. */
    public static final int MAX_WORKERS = 1024;

    /** Messages held per loop at most, whatever is configured: the heap they take stays bounded. */
    public static final int MAX_IN_FLIGHT = 100_000;

    public Concurrency {
        Objects.requireNonNull(ordering, "ordering");
        Objects.requireNonNull(key, "key");
        if (workers < 0 || workers > MAX_WORKERS) {
            throw new IllegalArgumentException("concurrency must be 0 (the default) to " + MAX_WORKERS + ", was "
                    + workers);
        }
        if (maxInFlight < 0 || maxInFlight > MAX_IN_FLIGHT) {
            throw new IllegalArgumentException("max-in-flight must be 0 (the default) to " + MAX_IN_FLIGHT
                    + ", was " + maxInFlight);
        }
    }

    /**
     * Four messages per worker, so that each finds the next one waiting, and two batches, so that a read has room
     * while the last one is handled.
     */
    static int defaultMaxInFlight(int workers, int batchSize) {
        return Math.min(MAX_IN_FLIGHT, Math.max(2 * batchSize, 4 * workers));
    }

    /**
     * What the loop runs with: the configured values over the declared ones, the engine's default concurrency where
     * neither says; STREAM makes it one worker.
     */
    Concurrency resolve(EngineSettings.GroupSettings configured, int engineDefault, int batchSize) {
        int n = configured.concurrency() != null ? configured.concurrency() : workers != 0 ? workers : engineDefault;
        Subscribe.Ordering o = configured.ordering() != null ? configured.ordering() : ordering;
        String k = configured.key() != null ? configured.key() : key;
        int window = configured.maxInFlight() != null ? configured.maxInFlight() : maxInFlight;
        if (o == Subscribe.Ordering.STREAM) {
            n = 1;
        }
        n = Math.max(1, n);
        return new Concurrency(n, o, k, window != 0 ? window : defaultMaxInFlight(n, batchSize));
    }

    /** Whether the loop runs workers besides its reader. */
    boolean parallel() {
        return workers > 1;
    }
}
