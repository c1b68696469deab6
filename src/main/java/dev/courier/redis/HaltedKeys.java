package dev.courier.redis;

import dev.courier.Partitions;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;

/**
 * The operator's side of a group in this instance: its halted keys, what to do with each head, and their records in
 * {@link SharedHalts}, so that an operator on any instance lists them and asks for a resolution, carried out here.
 */
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
    private final SharedHalts shared;

    HaltedKeys(String brokerName, String category, String group, PartitionLeases leases, OwnedKeys owned,
               PartitionAcks acks, SharedHalts shared) {
        this.brokerName = brokerName;
        this.category = category;
        this.group = group;
        this.leases = leases;
        this.owned = owned;
        this.acks = acks;
        this.shared = shared;
    }

    /**
     * At each heartbeat: records this instance's halts in Redis, and carries out the resolutions an operator asked
     * for elsewhere (no call while nothing is halted here).
     */
    void beat() {
        List<SharedHalts.Halt> mine = new ArrayList<>();
        synchronized (owned) {
            for (OwnedKey o : owned.withLanes()) {
                if (o.halted) {
                    mine.add(new SharedHalts.Halt(o.key, entryId(o), o.attempts, SharedHalts.NO_REQUEST, o.token));
                }
            }
        }
        if (mine.isEmpty()) {
            return;
        }
        List<SharedHalts.Halt> records = shared.records(mine.stream().map(SharedHalts.Halt::key).toList());
        for (int i = 0; i < mine.size(); i++) {
            SharedHalts.Halt halt = mine.get(i);
            SharedHalts.Halt record = records.get(i);
            if (record == null || !record.token().equals(halt.token()) || !record.entryId().equals(halt.entryId())) {
                shared.publish(halt);
            } else if (!SharedHalts.NO_REQUEST.equals(record.request())) {
                LOG.log(Level.INFO, "broker ''{0}'': {1} of key ''{2}'' of stream ''{3}'' for group ''{4}'' asked "
                        + "for by an operator on another instance", brokerName, record.request(), halt.key(),
                        category, group);
                if (!resolve(halt.key(), resolution(record.request()))) {
                    shared.clear(halt.key(), halt.token());
                }
            }
        }
    }

    private static Resolution resolution(String request) {
        for (Resolution r : Resolution.values()) {
            if (r.name().equals(request)) {
                return r;
            }
        }
        return Resolution.RETRY; // not written by Courier: the safe one, the head handled again
    }

    private static String entryId(OwnedKey o) {
        return o.failing.id().substring(o.key.length() + 1);
    }

    /** The halted keys of this group owned here, with their heads. */
    List<Partitions.HaltedKey> halted() {
        List<Partitions.HaltedKey> out = new ArrayList<>();
        synchronized (owned) {
            for (OwnedKey o : owned.withLanes()) {
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
        String entryId = entryId(o);
        boolean done = switch (resolution) {
            case SKIP -> {
                if (leases.ack(category, key, o.token, entryId) < 0) {
                    owned.drop(key);
                    yield false;
                }
                LOG.log(Level.WARNING, "broker ''{0}'': poison message {1} of key ''{2}'' of stream ''{3}'' skipped "
                        + "for group ''{4}'' by an operator", brokerName, entryId, key, category, group);
                synchronized (owned) {
                    o.halted = false;
                    acks.settled(o, entryId);
                }
                yield true;
            }
            case DEAD_LETTER -> acks.moveToDeadLetters(PartitionReader.messageId(key, entryId), "operator");
            case RETRY -> {
                synchronized (owned) {
                    o.halted = false;
                    o.attempts = 0;
                    o.retrying = true; // handed out again at once
                    o.retryAt = 0;
                    owned.wake();
                }
                yield true;
            }
        };
        if (done) {
            try {
                shared.clear(key, o.token); // the halt ended
            } catch (dev.courier.BrokerException e) {
                LOG.log(Level.DEBUG, () -> "removing the halt record failed (it is removed once the lease "
                        + "moves): " + e.getMessage());
            }
        }
        return done;
    }
}
