package dev.courier.redis;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Reaps the owned keys that gave nothing for reap-idle, as Protean's owner does ({@link PartitionLeases#REAP}). */
final class PartitionReaper {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");
    /** Keys reaped per heartbeat at most. */
    private static final int CHUNK = 1000;

    private final String brokerName;
    private final String category;
    private final String group;
    private final PartitionLeases leases;
    private final OwnedKeys owned;
    private final KeyDiscovery discovery;
    /** 0: never reaps. */
    private final long reapIdleMs;
    /** The backfill lane's suffix: the lane is checked (and deleted with the key) whether lanes are on or not. */
    private final String laneSuffix;

    PartitionReaper(String brokerName, String category, String group, PartitionLeases leases, OwnedKeys owned,
                    KeyDiscovery discovery, long reapIdleMs, String laneSuffix) {
        this.laneSuffix = laneSuffix;
        this.brokerName = brokerName;
        this.category = category;
        this.group = group;
        this.leases = leases;
        this.owned = owned;
        this.discovery = discovery;
        this.reapIdleMs = reapIdleMs;
    }

    /** Reaps owned keys that gave nothing for reap-idle, at most a chunk per beat. */
    void reap() {
        if (reapIdleMs <= 0) {
            return;
        }
        long now = System.nanoTime();
        List<OwnedKey> cold = new ArrayList<>();
        synchronized (owned) {
            for (OwnedKey o : owned.values()) {
                if (cold.size() < CHUNK && o.settled() && cold(o, now) && (o.lane == null || cold(o.lane, now))) {
                    cold.add(o);
                }
            }
        }
        for (OwnedKey o : cold) {
            long reaped = leases.reap(category, o.key, o.token, reapIdleMs, laneSuffix);
            synchronized (owned) {
                if (reaped == 1) {
                    LOG.log(Level.DEBUG, "broker ''{0}'': partition ''{1}'' of stream ''{2}'' reaped by group "
                            + "''{3}'' after {4} ms idle", brokerName, o.key, category, group, reapIdleMs);
                    owned.drop(o.key);
                    discovery.forget(o.key);
                } else if (reaped < 0) {
                    owned.drop(o.key);
                } else {
                    o.lastActive = now; // refused: tried again after another reap-idle
                    if (o.lane != null) {
                        o.lane.lastActive = now;
                    }
                }
            }
        }
    }

    /** Nothing buffered, not halted, and nothing given for reap-idle. Holding the monitor. */
    private boolean cold(OwnedKey o, long now) {
        return o.buffer.isEmpty() && !o.halted && now - o.lastActive >= TimeUnit.MILLISECONDS.toNanos(reapIdleMs);
    }
}
