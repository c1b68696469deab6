package dev.courier.redis;

import dev.courier.Partitions;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;

/** The operator's side of a group in this instance: its halted keys and what to do with each head. */
final class HaltedKeys {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");

    /** What an operator does to a halted key's head. */
    enum Resolution { SKIP, DEAD_LETTER, RETRY }

    private final String brokerName;
    private final String category;
    private final String group;
    private final PartitionLeases leases;
    private final OwnedKeys owned;
    private final PartitionAcks acks;

    HaltedKeys(String brokerName, String category, String group, PartitionLeases leases, OwnedKeys owned,
               PartitionAcks acks) {
        this.brokerName = brokerName;
        this.category = category;
        this.group = group;
        this.leases = leases;
        this.owned = owned;
        this.acks = acks;
    }

    /** The halted keys of this group owned here, with their heads. */
    List<Partitions.HaltedKey> halted() {
        List<Partitions.HaltedKey> out = new ArrayList<>();
        synchronized (owned) {
            for (OwnedKey o : owned.values()) {
                if (o.halted) {
                    out.add(new Partitions.HaltedKey(category, group, o.key, o.failing.id(), o.attempts));
                }
            }
        }
        return out;
    }

    boolean resolve(String key, Resolution resolution) {
        OwnedKey o;
        synchronized (owned) {
            o = owned.get(key);
            if (o == null || !o.halted) {
                return false;
            }
        }
        String entryId = o.failing.id().substring(key.length() + 1);
        switch (resolution) {
            case SKIP -> {
                if (leases.ack(category, key, o.token, entryId) < 0) {
                    owned.drop(key);
                    return false;
                }
                LOG.log(Level.WARNING, "broker ''{0}'': poison message {1} of key ''{2}'' of stream ''{3}'' skipped "
                        + "for group ''{4}'' by an operator", brokerName, entryId, key, category, group);
                synchronized (owned) {
                    o.halted = false;
                    acks.settled(o, entryId);
                }
                return true;
            }
            case DEAD_LETTER -> {
                return acks.moveToDeadLetters(PartitionReader.messageId(key, entryId), "operator");
            }
            default -> {
                synchronized (owned) {
                    o.halted = false;
                    o.attempts = 0;
                    o.retrying = true; // handed out again at once
                    o.retryAt = 0;
                    owned.wake();
                }
                return true;
            }
        }
    }
}
