package dev.courier.redis;

import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A group's heartbeat, on a thread of its own apart from handlers, every fifth of the lease TTL: marks this owner
 * live, renews every lease in one script per chunk (so a slow handler never lets a lease lapse), sends the acks held
 * back (see {@link PartitionAcks#defer}), records this
 * instance's halts and carries out operators' requests, then discovers keys, balances toward the fair share (of the
 * live Courier owners and the other owners seen in the leases) and reaps cold keys.
 */
final class LeaseHeartbeat implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");
    /** Leases per renew script, so that no call holds Redis for long. */
    private static final int CHUNK = 1000;

    /** KEYS: the group's owner set. ARGV: owner, ttl ms. Marks the owner live now; the live ones. */
    static final RedisConnection.LuaScript OWNERS = RedisConnection.LuaScript.of("""
            redis.replicate_commands()
            local t = redis.call('TIME')
            local now = t[1] * 1000 + math.floor(t[2] / 1000)
            redis.call('ZADD', KEYS[1], now, ARGV[1])
            redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
            redis.call('PEXPIRE', KEYS[1], ARGV[2] * 4)
            return redis.call('ZRANGE', KEYS[1], 0, -1)
            """);

    private final String brokerName;
    private final String category;
    private final String group;
    private final String owner;
    private final RedisConnection connection;
    private final PartitionLeases leases;
    private final OwnedKeys owned;
    private final KeyDiscovery discovery;
    private final FairShare share;
    private final PartitionReaper reaper;
    private final ForeignOwners foreign;
    private final HaltedKeys halts;
    private final PartitionAcks acks;
    private final ScheduledExecutorService thread;
    private boolean joined;
    private volatile int liveOwners = 1;
    private volatile boolean closed;

    LeaseHeartbeat(String brokerName, String category, String group, String owner, RedisConnection connection,
                   PartitionLeases leases, OwnedKeys owned, KeyDiscovery discovery, FairShare share,
                   ForeignOwners foreign, HaltedKeys halts, PartitionAcks acks, PartitionReaper reaper) {
        this.brokerName = brokerName;
        this.category = category;
        this.group = group;
        this.owner = owner;
        this.connection = connection;
        this.leases = leases;
        this.owned = owned;
        this.discovery = discovery;
        this.share = share;
        this.reaper = reaper;
        this.foreign = foreign;
        this.halts = halts;
        this.acks = acks;
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "courier-partitions-" + brokerName + "-" + group);
            t.setDaemon(true);
            return t;
        });
    }

    /** The sorted set of a group's live Courier owners (score: last heartbeat); Protean writes none. */
    static String owners(String group) {
        return group + ":__owners__";
    }

    void start() {
        thread.scheduleWithFixedDelay(this::beatQuietly, 0, Math.max(1, owned.ttlMs() / 5), TimeUnit.MILLISECONDS);
    }

    /** The live owners seen at the last heartbeat: Courier's, and the others (Protean's) seen in the leases. */
    int liveOwners() {
        return liveOwners;
    }

    private void beatQuietly() {
        if (closed) {
            return;
        }
        try {
            beat();
        } catch (RuntimeException e) {
            // A lease not renewed lapses within its TTL and is taken again at a new generation.
            LOG.log(Level.WARNING, "broker ''{0}'': partition heartbeat of group ''{1}'' on stream ''{2}'' failed: "
                    + "{3}", brokerName, group, category, e.getMessage());
        }
    }

    /** One heartbeat. */
    void beat() {
        if (!joined) {
            connection.execute("SADD", j -> j.sadd(PartitionedStreams.courierGroups(category), group));
            joined = true;
        }
        List<String> couriers = PartitionLeases.list(connection.eval("partition owners", OWNERS,
                List.of(owners(group)), List.of(owner, Long.toString(owned.ttlMs())))).stream()
                .map(o -> o instanceof byte[] b ? StreamEntries.utf8(b) : String.valueOf(o)).toList();
        renewAll();
        acks.flush(); // a loop that stopped reading leaves no handled message unacknowledged past a beat
        halts.beat();
        discovery.discover();
        foreign.sample(couriers);
        liveOwners = Math.max(1, couriers.size() + foreign.count());
        share.balance(liveOwners);
        reaper.reap();
    }

    private void renewAll() {
        List<OwnedKey> all = owned.snapshot();
        for (int from = 0; from < all.size(); from += CHUNK) {
            List<OwnedKey> chunk = all.subList(from, Math.min(all.size(), from + CHUNK));
            long sent = System.nanoTime();
            boolean[] renewed = leases.renew(OwnedKeys.keys(chunk), OwnedKeys.tokens(chunk), owned.ttlMs());
            synchronized (owned) {
                for (int i = 0; i < renewed.length; i++) {
                    OwnedKey o = chunk.get(i);
                    if (renewed[i]) {
                        o.renewedUntil(owned.validUntil(sent));
                    } else if (owned.isCurrent(o)) {
                        LOG.log(Level.WARNING, "broker ''{0}'': lease of key ''{1}'' of stream ''{2}'' for group "
                                + "''{3}'' was lost; dropping the key", brokerName, o.key, category, group);
                        owned.drop(o.key);
                    }
                }
            }
        }
    }

    /** Stops the heartbeat (a beat under way finishes first) and leaves the owner set. */
    @Override
    public void close() {
        closed = true;
        thread.shutdownNow();
        try {
            thread.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Leaves the owner set, so that the others count one owner less at once. */
    void leave() {
        try {
            connection.execute("ZREM", j -> j.zrem(owners(group), owner));
        } catch (dev.courier.BrokerException e) {
            LOG.log(Level.DEBUG, () -> "leaving the owner set failed (it lapses): " + e.getMessage());
        }
    }
}
