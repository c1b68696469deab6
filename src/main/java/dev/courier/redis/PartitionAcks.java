package dev.courier.redis;

import dev.courier.spi.RetryPolicy;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;

/**
 * Settles the messages handed out: fenced acknowledgements (a key whose lease moved acknowledges nothing), rejections
 * (the head again after the retry delay, before the key's next message) and, past {@code max-retries}, the poison
 * rule: halt the key, or dead-letter the head and go on.
 */
final class PartitionAcks {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");

    private final String brokerName;
    private final String category;
    private final String group;
    private final PartitionLeases leases;
    private final OwnedKeys owned;
    private final DeadLetterQueue deadLetters;
    private final ConsumerGroups groups;
    private final RetryPolicy policy;
    private final PartitionedGroup.Poison poison;

    PartitionAcks(String brokerName, String category, String group, PartitionLeases leases, OwnedKeys owned,
                  DeadLetterQueue deadLetters, ConsumerGroups groups, RetryPolicy policy,
                  PartitionedGroup.Poison poison) {
        this.brokerName = brokerName;
        this.category = category;
        this.group = group;
        this.leases = leases;
        this.owned = owned;
        this.deadLetters = deadLetters;
        this.groups = groups;
        this.policy = policy;
        this.poison = poison;
    }

    /** Fenced XACK of each message's key, in one script: a key whose lease moved acknowledges nothing. */
    int ackAll(List<String> messageIds) {
        List<OwnedKey> keys = new ArrayList<>(messageIds.size());
        List<String> entryIds = new ArrayList<>(messageIds.size());
        synchronized (owned) {
            for (String id : messageIds) {
                int colon = id.lastIndexOf(':');
                OwnedKey o = colon < 0 ? null : owned.get(id.substring(0, colon));
                if (o == null) {
                    LOG.log(Level.WARNING, "broker ''{0}'': message {1} of group ''{2}'' fenced, not acknowledged: "
                            + "this instance no longer owns its key of stream ''{3}''", brokerName, id, group,
                            category);
                } else {
                    keys.add(o);
                    entryIds.add(id.substring(colon + 1));
                }
            }
        }
        if (keys.isEmpty()) {
            return 0;
        }
        long[] acked = leases.ack(category, OwnedKeys.keys(keys), OwnedKeys.tokens(keys), entryIds);
        int acknowledged = 0;
        synchronized (owned) {
            for (int i = 0; i < acked.length; i++) {
                OwnedKey o = keys.get(i);
                if (acked[i] < 0) {
                    LOG.log(Level.WARNING, "broker ''{0}'': message {1} of group ''{2}'' fenced: the lease of key "
                            + "''{3}'' moved, so it was not acknowledged", brokerName,
                            PartitionReader.messageId(o.key, entryIds.get(i)), group, o.key);
                    if (owned.isCurrent(o)) {
                        owned.drop(o.key);
                    }
                    continue;
                }
                acknowledged += (int) acked[i];
                settled(o, entryIds.get(i));
            }
        }
        return acknowledged;
    }

    /**
     * A message of the key is done with: the key reads new entries again, or is released if it was surplus. Called
     * holding the monitor.
     */
    void settled(OwnedKey o, String entryId) {
        if (!entryId.equals(o.inFlight)) {
            return;
        }
        o.inFlight = null;
        o.current = null;
        o.attempts = 0;
        o.retryAt = 0;
        if (o.releaseWhenSettled) {
            owned.release(List.of(o));
        }
        owned.wake();
    }

    /**
     * A rejection: the head is read again (pending first) after the retry delay, the key's later messages waiting;
     * past {@code max-retries} the key halts or the head is dead-lettered.
     */
    boolean nack(String messageId) {
        int colon = messageId.lastIndexOf(':');
        String key = colon < 0 ? "" : messageId.substring(0, colon);
        String entryId = colon < 0 ? "" : messageId.substring(colon + 1);
        synchronized (owned) {
            OwnedKey o = owned.get(key);
            if (o == null || !entryId.equals(o.inFlight)) {
                return false;
            }
            o.attempts++;
            if (!policy.exhausted(o.attempts)) {
                o.retryAt = System.currentTimeMillis() + policy.delayBeforeRetry(o.attempts).toMillis();
                o.inFlight = null; // the message stays current: handed out again, before the key's next one
                return true;
            }
            if (poison == PartitionedGroup.Poison.HALT) {
                o.halted = true;
                LOG.log(Level.ERROR, "broker ''{0}'': key ''{1}'' of stream ''{2}'' halted for group ''{3}'' on "
                        + "poison message {4} after {5} attempts; it stays owned until an operator skips, "
                        + "dead-letters or retries it", brokerName, key, category, group, entryId, o.attempts);
                return true;
            }
        }
        return moveToDeadLetters(messageId, "max_retries_exceeded");
    }

    /** Dead-letters the key's message in flight (or halted head) if the lease is still this instance's. */
    boolean moveToDeadLetters(String messageId, String reason) {
        int colon = messageId.lastIndexOf(':');
        String key = colon < 0 ? "" : messageId.substring(0, colon);
        String entryId = colon < 0 ? "" : messageId.substring(colon + 1);
        OwnedKey o;
        synchronized (owned) {
            o = owned.get(key);
            if (o == null || !entryId.equals(o.inFlight)) {
                return false;
            }
        }
        if (!owned.stillOwned(o)) {
            return false;
        }
        String stream = PartitionedStreams.stream(category, key);
        deadLetters.write(groups.state(stream, group), entryId, null, Math.max(1, o.attempts), reason, o.token);
        synchronized (owned) {
            o.halted = false;
            settled(o, entryId);
        }
        return true;
    }
}
