package dev.courier.redis;

import dev.courier.BrokerException;

import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The keys a group owns in this instance, and the monitor that guards them and every {@link OwnedKey}: readers wait
 * on it for keys or settled messages, and are woken when either comes.
 */
final class OwnedKeys {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");

    private final Map<String, OwnedKey> owned = new LinkedHashMap<>();
    /** Keys to read next (acquired ones, then those the reader queues), in turn; for {@link PartitionReader}. */
    final ArrayDeque<OwnedKey> toRead = new ArrayDeque<>();
    private final PartitionLeases leases;
    private final long ttlMs;
    /** With priority lanes, the backfill suffix: each key owned has its lane ({@link OwnedKey#lane}); else null. */
    private final String laneSuffix;

    OwnedKeys(PartitionLeases leases, long ttlMs, String laneSuffix) {
        this.leases = leases;
        this.ttlMs = ttlMs;
        this.laneSuffix = laneSuffix;
    }

    String laneSuffix() {
        return laneSuffix;
    }

    /** The lane of a key, {@code <key>:<suffix>}, as {@link #get} and the streams name it. */
    String lane(String key) {
        return key + ":" + laneSuffix;
    }

    /** The key a name stands for: the key itself, or the key of a lane {@code <key>:<suffix>}. */
    private static String base(String name) {
        int colon = name.indexOf(':');
        return colon < 0 ? name : name.substring(0, colon);
    }

    long ttlMs() {
        return ttlMs;
    }

    /** The key's state, or with lanes on a lane's ({@code <key>:<suffix>}); null when not owned. */
    synchronized OwnedKey get(String key) {
        OwnedKey o = owned.get(key);
        if (o == null && laneSuffix != null && key.endsWith(":" + laneSuffix)) {
            OwnedKey unit = owned.get(base(key));
            return unit == null || !key.equals(unit.lane.key) ? null : unit.lane;
        }
        return o;
    }

    synchronized boolean contains(String key) {
        return owned.containsKey(key);
    }

    /** Whether {@code o} is still the key's owned state (not dropped, nor acquired again since). */
    synchronized boolean isCurrent(OwnedKey o) {
        OwnedKey unit = o.unit();
        return owned.get(unit.key) == unit;
    }

    /** The keys owned and their lanes; call it holding the monitor. */
    List<OwnedKey> withLanes() {
        List<OwnedKey> all = new ArrayList<>(laneSuffix == null ? owned.size() : owned.size() * 2);
        for (OwnedKey o : owned.values()) {
            all.add(o);
            if (o.lane != null) {
                all.add(o.lane);
            }
        }
        return all;
    }

    synchronized int size() {
        return owned.size();
    }

    /** The live view, in acquisition order; iterate it holding the monitor. */
    Collection<OwnedKey> values() {
        return owned.values();
    }

    synchronized List<OwnedKey> snapshot() {
        return new ArrayList<>(owned.values());
    }

    synchronized Set<String> keys() {
        return Set.copyOf(owned.keySet());
    }

    /** A key just acquired: readers waiting for keys wake. */
    synchronized void add(OwnedKey o) {
        if (laneSuffix != null) {
            // Read once the key's stream has nothing (PartitionReader), its own pending entries first.
            o.lane = new OwnedKey(o.stream + ":" + laneSuffix, lane(o.key), o.token, o.validUntil, true);
            o.lane.parent = o;
            // Its stream read at once, even with nothing pending (which otherwise waits in the XREAD), so that its
            // end is known and the lane's turn comes whether or not the stream ever gets an entry.
            o.ready = true;
        }
        owned.put(o.key, o);
        o.toRead = true;
        toRead.add(o);
        notifyAll();
    }

    /** Stops handling a key without releasing it (its lease is gone or going): Protean's drop. */
    synchronized void drop(String key) {
        owned.remove(base(key)); // a lane's lease is its key's: both go
    }

    /** Compare-and-delete of the keys' leases; they are no longer owned here. */
    synchronized void release(List<OwnedKey> keys) {
        if (keys.isEmpty()) {
            return;
        }
        for (OwnedKey o : keys) {
            owned.remove(o.unit().key);
        }
        try {
            leases.release(keys(keys), tokens(keys));
        } catch (BrokerException e) {
            LOG.log(Level.DEBUG, () -> "releasing leases failed (they lapse within their TTL): " + e.getMessage());
        }
    }

    /** Wakes readers waiting for keys or for a settled message. */
    synchronized void wake() {
        notifyAll();
    }

    /** Waits up to {@code ms} for {@link #wake}. */
    synchronized void await(long ms) {
        try {
            wait(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Four fifths of a TTL after {@code sent}: the lease cannot have lapsed before, whatever Redis's clock. */
    long validUntil(long sent) {
        return sent + TimeUnit.MILLISECONDS.toNanos(ttlMs * 4 / 5);
    }

    /**
     * Renews one key's lease now (before an irreversible step such as a dead letter): whether it is still the
     * token's; dropped if not.
     */
    boolean stillOwned(OwnedKey o) {
        long sent = System.nanoTime();
        boolean[] renewed = leases.renew(List.of(o.key), List.of(o.token), ttlMs);
        synchronized (this) {
            if (renewed[0]) {
                o.renewedUntil(validUntil(sent));
            } else {
                drop(o.key);
            }
        }
        return renewed[0];
    }

    static List<String> keys(List<OwnedKey> owned) {
        List<String> keys = new ArrayList<>(owned.size());
        owned.forEach(o -> keys.add(o.key));
        return keys;
    }

    static List<String> tokens(List<OwnedKey> owned) {
        List<String> tokens = new ArrayList<>(owned.size());
        owned.forEach(o -> tokens.add(o.token));
        return tokens;
    }
}
