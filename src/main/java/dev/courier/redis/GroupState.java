package dev.courier.redis;

import redis.clients.jedis.util.SafeEncoder;

/**
 * What one broker object knows of one group of one stream: whether it created the group, and where its looks at the
 * pending entries list (left-over entries, XAUTOCLAIM, retries) go on. Redis holds the delivery state itself; losing
 * this object loses no entry, only the position of a scan.
 */
final class GroupState {
    final String stream;
    final String group;
    final byte[] streamKey;
    final byte[] groupKey;
    volatile boolean created;
    /** Where the look for this consumer's left-over entries goes on; {@code null} once it reached the end. */
    volatile String leftoverCursor = "-";
    /** Entries this consumer has held since before this time (epoch ms) are left over. */
    volatile long leftoverSince;
    /** The connection's failure count when this group last looked for left-over entries. */
    volatile long seenFailures;
    /** Where the next XAUTOCLAIM starts; 0-0 begins a scan. */
    volatile String reclaimCursor = StreamEntries.ZERO;
    volatile long nextReclaimAt;
    /** When to look at the retry consumer's PEL next: the earliest known due time, else a poll. */
    private long nextRetryCheckAt;

    GroupState(String stream, String group) {
        this.stream = stream;
        this.group = group;
        this.streamKey = SafeEncoder.encode(stream);
        this.groupKey = SafeEncoder.encode(group);
    }

    /** After a look at the retry PEL that began when the next check was {@code seen}. */
    synchronized void retryCheckedUntil(long seen, long next) {
        // A nack during the look may have asked for an earlier check: keep it.
        nextRetryCheckAt = nextRetryCheckAt == seen ? next : Math.min(nextRetryCheckAt, next);
    }

    /** A retry is due by then (this instance rejected an entry). */
    synchronized void retryDueBy(long due) {
        nextRetryCheckAt = Math.min(nextRetryCheckAt, due);
    }

    synchronized long nextRetryCheckAt() {
        return nextRetryCheckAt;
    }
}
