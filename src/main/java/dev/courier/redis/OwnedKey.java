package dev.courier.redis;

import dev.courier.Message;

import java.util.ArrayDeque;

/** What this instance knows of a partition key it owns; guarded by its {@link OwnedKeys}' monitor. */
final class OwnedKey {
    final String key;
    final String token;
    /** The last entry id the group was given for the key: the blocking XREAD wakes after it. */
    String lastId = StreamEntries.ZERO;
    /** Entries read under the token (pending on it) and not handed out yet, in order. */
    final ArrayDeque<Message> buffer = new ArrayDeque<>();
    /** The message handed out (or waiting for its retry, or halted on); null when none. */
    Message current;
    /** The entry handed out and not yet settled; null when none (also while a retry waits). */
    String inFlight;
    /** Read own pending entries next, from {@link #pendingCursor}: after acquisition, until none is left. */
    boolean pendingNext = true;
    String pendingCursor = "0";
    long retryAt;
    int attempts;
    boolean halted;
    boolean releaseWhenSettled;
    /** Its last read gave an entry, or XREAD woke on it: read it again before waiting on all of them. */
    boolean ready;
    /** When it was acquired or last gave a message (System.nanoTime): a reap waits for reap-idle after it. */
    long lastActive = System.nanoTime();
    /**
     * Until when (System.nanoTime) the lease is surely still this token's: four fifths of a TTL after the last
     * acquire or renew was sent. Buffered messages are handed out only before it, so that no handler starts
     * on a key whose lease may have moved.
     */
    long validUntil;

    OwnedKey(String key, String token, long validUntil) {
        this.key = key;
        this.token = token;
        this.validUntil = validUntil;
    }
}
