package dev.courier.redis;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Moves a group's instance toward its fair share of the keys, ceil(keys / live owners): below it, it acquires free
 * keys (reclaiming earlier generations' pending entries before the first read); above it, it releases the surplus
 * at a message boundary.
 */
final class FairShare {

    /** Keys per acquire script at most, so that no call holds Redis for long. */
    private static final int CHUNK = 1000;
    /** Keys per reclaim script: one round trip for many, the first ones read while the next are reclaimed. */
    private static final int RECLAIM_CHUNK = 64;

    private final String category;
    private final String owner;
    private final PartitionLeases leases;
    private final OwnedKeys owned;
    private final Set<String> known;
    private int acquireFrom;

    FairShare(String category, String owner, PartitionLeases leases, OwnedKeys owned, Set<String> known) {
        this.category = category;
        this.owner = owner;
        this.leases = leases;
        this.owned = owned;
        this.known = known;
    }

    /** Towards ceil(keys / live owners): acquires free keys below it, releases idle surplus above it. */
    void balance(int liveOwners) {
        int keys = known.size();
        int live = Math.max(1, liveOwners);
        int share = (keys + live - 1) / live;
        int deficit;
        synchronized (owned) {
            deficit = share - owned.size();
            if (deficit < 0 && live > 1) {
                List<OwnedKey> surplus = new ArrayList<>();
                int over = -deficit;
                for (OwnedKey o : owned.values()) {
                    if (over == 0) {
                        break;
                    }
                    if (o.halted) {
                        continue; // a halted key waits for its operator here
                    }
                    if (o.settled()) {
                        surplus.add(o); // no message handed out: a message boundary (buffered ones stay pending)
                    } else {
                        o.releaseWhenSettled = true;
                    }
                    over--;
                }
                owned.release(surplus);
            }
        }
        if (deficit > 0) {
            acquire(deficit);
        }
    }

    /** Tries the free keys, from where the last pass stopped, until {@code wanted} are won or every key was tried. */
    private void acquire(int wanted) {
        List<String> candidates;
        synchronized (owned) {
            List<String> all = new ArrayList<>(known);
            all.sort(null);
            candidates = new ArrayList<>();
            for (int i = 0; i < all.size(); i++) {
                String key = all.get((acquireFrom + i) % all.size());
                if (!owned.contains(key)) {
                    candidates.add(key);
                }
            }
            acquireFrom = all.isEmpty() ? 0 : (acquireFrom + Math.min(all.size(), wanted * 2)) % all.size();
        }
        int won = 0;
        for (int from = 0; from < candidates.size() && won < wanted; ) {
            List<String> chunk = candidates.subList(from, Math.min(candidates.size(), from + Math.min(CHUNK,
                    Math.max(wanted - won, 16))));
            from += chunk.size();
            long sent = System.nanoTime();
            List<String> tokens = leases.acquire(owner, chunk, owned.ttlMs());
            List<String> keys = new ArrayList<>();
            List<String> keyTokens = new ArrayList<>();
            List<String> extra = new ArrayList<>();
            List<String> extraTokens = new ArrayList<>();
            for (int i = 0; i < chunk.size(); i++) {
                if (tokens.get(i) == null) {
                    continue;
                }
                if (won < wanted) {
                    keys.add(chunk.get(i));
                    keyTokens.add(tokens.get(i));
                    won++;
                } else {
                    // What this chunk won beyond the share is given back at once.
                    extra.add(chunk.get(i));
                    extraTokens.add(tokens.get(i));
                }
            }
            if (!extra.isEmpty()) {
                leases.release(extra, extraTokens);
            }
            for (int at = 0; at < keys.size(); at += RECLAIM_CHUNK) {
                List<String> some = keys.subList(at, Math.min(keys.size(), at + RECLAIM_CHUNK));
                List<String> someTokens = keyTokens.subList(at, at + some.size());
                // Earlier generations' pending entries move to the new tokens before the first read; a key that got
                // none has nothing pending on its token (new with the generation), so it reads new entries at once.
                long[] moved = leases.reclaim(category, some, someTokens);
                if (owned.laneSuffix() != null) {
                    // The lanes' too, as Protean's worker does; a lane reads its own pending entries first anyway.
                    leases.reclaim(category, some.stream().map(owned::lane).toList(), someTokens);
                }
                for (int i = 0; i < some.size(); i++) {
                    owned.add(new OwnedKey(PartitionedStreams.stream(category, some.get(i)), some.get(i),
                            someTokens.get(i), owned.validUntil(sent), moved[i] > 0));
                }
            }
        }
    }
}
