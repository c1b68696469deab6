package dev.courier.redis;

import dev.courier.Message;

import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;

/** What this instance knows of a partition key it owns; guarded by its {@link OwnedKeys}' monitor. */
final class OwnedKey {
    final String key;
    /** The key's stream, {@code <category>:<key>}: the stream of each of its messages. */
    final String stream;
    final String token;
    /** The last entry id the group was given for the key: the blocking XREAD wakes after it. */
    String lastId = StreamEntries.ZERO;
    /** Entries read under the token (pending on it) and not handed out yet, in order. */
    final ArrayDeque<Message> buffer = new ArrayDeque<>();
    /**
     * The messages handed out and not settled, by id, in order (a retry waiting among them). One at most, unless the
     * loop keeps them in order (see {@link PartitionReader}): then the loop runs them one after the other, and may
     * have finished the first ones, their acks coming with its next reads, when a later one fails.
     */
    final Map<String, Message> out = new LinkedHashMap<>();
    /** Read own pending entries next, from {@link #pendingCursor}: after acquisition, until none is left. */
    boolean pendingNext;
    String pendingCursor = "0";
    /** The one message of the key that failed and is not settled (retried, or halted on); null when none. */
    Message failing;
    /** {@link #failing} waits, not handed out, for {@link #retryAt}. */
    boolean retrying;
    long retryAt;
    /** The rejections of {@link #failing} so far. */
    int attempts;
    boolean halted;
    boolean releaseWhenSettled;
    /** Its last read gave a full batch, or XREAD woke on it: read it again before waiting on all of them. */
    boolean ready;
    /** Its last read of new entries was full: the next one asks for more (see {@link PartitionReader}). */
    boolean backlog;
    /** The stream's last entry id is unknown (none read yet, or a read found nothing): the next read asks. */
    boolean lastUnknown = true;
    /** In its {@link OwnedKeys#toRead}, or in the reader's queues of keys to hand out and keys with messages out. */
    boolean toRead;
    /** A fenced read of it is in flight (see {@link PartitionReader}): no other starts before its reply is in. */
    boolean reading;
    boolean toHand;
    boolean withOut;
    /** When it was acquired or last gave a message (System.nanoTime): a reap waits for reap-idle after it. */
    long lastActive = System.nanoTime();
    /**
     * Until when (System.nanoTime) the lease is surely still this token's: four fifths of a TTL after the last
     * acquire or renew was sent. Buffered messages are handed out only before it, so that no handler starts
     * on a key whose lease may have moved.
     */
    long validUntil;
    /**
     * With priority lanes: the key's backfill lane {@code <key>:<suffix>}, read under the same lease and token, only
     * while the key's own stream has nothing; not in {@link OwnedKeys}' map, which holds keys. Null without lanes.
     */
    OwnedKey lane;
    /** For a lane: the key it is the lane of; null for a key. */
    OwnedKey parent;

    /** The message out with this entry id, or null. */
    Message out(String entryId) {
        return out.get(PartitionReader.messageId(key, entryId));
    }

    /** Whether this very message (not an equal one) is out. */
    boolean isOut(Message message) {
        return out.get(message.id()) == message;
    }

    /** Puts {@code again} in the place of {@code before}, out (the same message, handed out again). */
    void replace(Message before, Message again) {
        out.replace(before.id(), before, again);
    }

    /** Nothing handed out and unsettled (nor of its lane): a message boundary, where it may be released or reaped. */
    boolean settled() {
        return out.isEmpty() && (lane == null || lane.out.isEmpty());
    }

    /** The key this is the state of: itself, or for a lane its key. */
    OwnedKey unit() {
        return parent != null ? parent : this;
    }

    /** The lease (shared by a key and its lane) is surely this token's until then. */
    void renewedUntil(long until) {
        OwnedKey unit = unit();
        unit.validUntil = until;
        if (unit.lane != null) {
            unit.lane.validUntil = until;
        }
    }

    /** @param pending whether entries are pending on the token (reclaimed ones): they are read first */
    OwnedKey(String stream, String key, String token, long validUntil, boolean pending) {
        this.stream = stream;
        this.key = key;
        this.token = token;
        this.validUntil = validUntil;
        this.pendingNext = pending;
    }
}
