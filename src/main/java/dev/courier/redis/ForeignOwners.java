package dev.courier.redis;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * The owners of a group's leases that are not in Courier's owner set (Protean instances sharing the group, which
 * write none), so that the fair share counts them: each heartbeat reads the lease values ({@code <ownerId>:<gen>})
 * of the next few known keys, one MGET, going round all of them; an owner counts while the round under way or the
 * last one saw it, so that one gone is forgotten after a round.
 */
final class ForeignOwners {

    /** Leases read per heartbeat: a round over 10,000 keys takes 40 heartbeats. */
    static final int SAMPLE = 250;

    private final RedisConnection connection;
    private final String group;
    private final Set<String> known;
    private Iterator<String> round;
    private Set<String> seen = new HashSet<>();
    private Set<String> lastRound = Set.of();

    ForeignOwners(RedisConnection connection, String group, Set<String> known) {
        this.connection = connection;
        this.group = group;
        this.known = known;
    }

    /** Reads the next sample of leases; at the end of a round, what it saw replaces the last round's. */
    void sample() {
        if (round == null) {
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
                    seen.add(token.substring(0, colon));
                }
            }
        }
        if (!round.hasNext()) {
            lastRound = seen;
            seen = new HashSet<>();
            round = null;
        }
    }

    /** The owners seen in this round or the last that are not among {@code courierOwners}. */
    int count(Collection<String> courierOwners) {
        Set<String> foreign = new HashSet<>(lastRound);
        foreign.addAll(seen);
        foreign.removeAll(courierOwners);
        return foreign.size();
    }
}
