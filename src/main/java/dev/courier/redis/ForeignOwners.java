package dev.courier.redis;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The owners of a group's leases that are not in Courier's owner set (Protean instances sharing the group, which
 * write none), so that the fair share counts them: each heartbeat reads the lease values ({@code <ownerId>:<gen>})
 * of the next few known keys in one MGET, going round all of them. An owner counts until a round, and at least two
 * lease TTLs, passed without seeing it. An id seen in Courier's owner set as lately is never counted: a crashed
 * Courier instance leaves that set while its leases lapse, and must not then count twice.
 */
final class ForeignOwners {

    /** Leases read per heartbeat: a round over 10,000 keys takes 40 heartbeats. */
    static final int SAMPLE = 250;
    /** Heartbeats (a fifth of a TTL each) an owner is remembered at least. */
    private static final int MEMORY = 10;

    private final RedisConnection connection;
    private final String group;
    private final Set<String> known;
    /** Owner id to the heartbeat it was last seen at, in a lease or in Courier's owner set. */
    private final Map<String, Long> inLeases = new HashMap<>();
    private final Map<String, Long> courier = new HashMap<>();
    private Iterator<String> round;
    private long beat;

    ForeignOwners(RedisConnection connection, String group, Set<String> known) {
        this.connection = connection;
        this.group = group;
        this.known = known;
    }

    /** One heartbeat: the live Courier owners, and the owners of the next sample of leases. */
    void sample(Collection<String> courierOwners) {
        beat++;
        courierOwners.forEach(o -> courier.put(o, beat));
        if (round == null || !round.hasNext()) {
            round = known.iterator(); // weakly consistent: it goes on across heartbeats as keys come and go
        }
        List<String> leases = new ArrayList<>(SAMPLE);
        while (leases.size() < SAMPLE && round.hasNext()) {
            leases.add(PartitionLeases.lease(group, round.next()));
        }
        if (!leases.isEmpty()) {
            List<String> tokens = connection.execute("MGET (lease owners)", j -> j.mget(leases.toArray(String[]::new)));
            for (String token : tokens) {
                int colon = token == null ? -1 : token.lastIndexOf(':');
                if (colon > 0) {
                    inLeases.put(token.substring(0, colon), beat);
                }
            }
        }
        long memory = Math.max(MEMORY, (known.size() + SAMPLE - 1) / SAMPLE + 1);
        inLeases.values().removeIf(seen -> beat - seen > memory);
        courier.values().removeIf(seen -> beat - seen > memory);
    }

    /** The owners seen lately in the leases that are not Courier's. */
    int count() {
        int foreign = 0;
        for (String owner : inLeases.keySet()) {
            if (!courier.containsKey(owner)) {
                foreign++;
            }
        }
        return foreign;
    }
}
