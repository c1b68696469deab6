package dev.courier.inline;

import java.util.Arrays;

/**
 * The retained part of an append-only log, addressed by position (0 for the first entry ever appended): an array
 * used as a ring, so that dropping the oldest entries costs no copy, and that shrinks again after a burst.
 * Not thread-safe; the broker holds the stream's lock.
 */
final class EntryLog<E> {

    private static final int MIN_CAPACITY = 16;

    private Object[] ring = new Object[MIN_CAPACITY];
    private int head;
    private int size;
    /** The position of the oldest retained entry. */
    private long first;

    /** The position of the oldest retained entry. */
    long first() {
        return first;
    }

    /** The position the next appended entry will have. */
    long end() {
        return first + size;
    }

    int size() {
        return size;
    }

    void add(E entry) {
        if (size == ring.length) {
            resize(ring.length * 2);
        }
        ring[(head + size) & (ring.length - 1)] = entry;
        size++;
    }

    /** The entry at a position from {@link #first()} (inclusive) to {@link #end()} (exclusive). */
    @SuppressWarnings("unchecked")
    E get(long position) {
        if (position < first || position >= end()) {
            throw new IndexOutOfBoundsException("position " + position + " is not in [" + first + ", " + end() + ")");
        }
        return (E) ring[(head + (int) (position - first)) & (ring.length - 1)];
    }

    /** Drops the oldest {@code count} entries. */
    void dropOldest(int count) {
        int n = Math.min(count, size);
        for (int i = 0; i < n; i++) {
            ring[head] = null;
            head = (head + 1) & (ring.length - 1);
        }
        size -= n;
        first += n;
        if (ring.length > MIN_CAPACITY && size < ring.length / 4) {
            resize(Math.max(MIN_CAPACITY, ring.length / 2));
        }
    }

    private void resize(int capacity) {
        Object[] next = new Object[capacity];
        for (int i = 0; i < size; i++) {
            next[i] = ring[(head + i) & (ring.length - 1)];
        }
        Arrays.fill(ring, null);
        ring = next;
        head = 0;
    }
}
