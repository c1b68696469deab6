package dev.courier.redis;

import dev.courier.Message;
import dev.courier.Partitions;
import dev.courier.spi.RetryPolicy;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One consumer group on a partitioned category, in this instance: owns keys through {@link PartitionLeases}, at most
 * one message of a key in flight (so a key's messages are handled in order, keys in parallel as the engine's
 * concurrency allows). The parts, each with one job, share the {@link OwnedKeys}:
 * <ul>
 *   <li>{@link PartitionReader}: the per-key buffers, read for all owned keys at once, and the hand-out;</li>
 *   <li>{@link PartitionAcks}: fenced acks, retries, and the poison rule ({@code halt} or {@code dead-letter});</li>
 *   <li>{@link LeaseHeartbeat}: renews every lease apart from handlers, then runs {@link KeyDiscovery},
 *       {@link FairShare} (ceil(keys / live owners), Protean's owners counted by {@link ForeignOwners}),
 *       {@link PartitionReaper} and the {@link HaltedKeys}' records;</li>
 *   <li>{@link HaltedKeys}: the operator's side, shared with other instances through {@link SharedHalts}.</li>
 * </ul>
 * With priority lanes, each owned key carries its backfill lane ({@link OwnedKey#lane}), read under the same lease
 * once the key's stream has nothing.
 */
final class PartitionedGroup implements AutoCloseable {

    /** Leases released per script on close, so that no call holds Redis for long. */
    private static final int CHUNK = 1000;

    enum Poison { HALT, DEAD_LETTER }

    private final String category;
    private final String group;
    private final String owner;
    private final Poison poison;
    private final OwnedKeys owned;
    private final PartitionReader reader;
    private final PartitionAcks acks;
    private final HaltedKeys halted;
    private final LeaseHeartbeat heartbeat;

    PartitionedGroup(String brokerName, String category, String group, RedisConnection connection,
                     DeadLetterQueue deadLetters, ConsumerGroups groups, RetryPolicy policy, Poison poison,
                     long ttlMs, long reapIdleMs, String consumer, LaneSettings lanes) {
        this.category = category;
        this.group = group;
        this.poison = poison;
        this.owner = consumer.replace(':', '-') + "-"
                + String.format("%06x", ThreadLocalRandom.current().nextInt(0x1000000));
        PartitionLeases leases = new PartitionLeases(connection, group);
        this.owned = new OwnedKeys(leases, ttlMs, lanes.enabled() ? lanes.suffix() : null);
        KeyDiscovery discovery = new KeyDiscovery(connection, category, group, owned);
        this.reader = new PartitionReader(brokerName, category, group, connection, leases, owned, discovery,
                deadLetters, groups);
        this.acks = new PartitionAcks(brokerName, category, group, leases, owned, deadLetters, groups, policy,
                poison);
        this.halted = new HaltedKeys(brokerName, category, group, leases, owned, acks,
                new SharedHalts(connection, group));
        this.heartbeat = new LeaseHeartbeat(brokerName, category, group, owner, connection, leases, owned, discovery,
                new FairShare(category, owner, leases, owned, discovery.known()),
                new ForeignOwners(connection, group, discovery.known()), halted, acks,
                new PartitionReaper(brokerName, category, group, leases, owned, discovery, reapIdleMs,
                        lanes.suffix()));
        heartbeat.start();
    }

    String category() {
        return category;
    }

    String group() {
        return group;
    }

    String owner() {
        return owner;
    }

    /** The keys owned now, for tests and info. */
    Set<String> ownedKeys() {
        return owned.keys();
    }

    /**
     * Settles {@code acks} (deferred: see {@link PartitionAcks#defer}), then hands out up to {@code max} messages, at
     * most one per key, reading more where a key's buffer is empty and waiting up to {@code blockMs} when there is
     * nothing (the deferred acks sent before it waits).
     */
    List<Message> read(int max, long blockMs, List<String> acks) {
        if (!acks.isEmpty()) {
            this.acks.defer(acks);
        }
        return reader.read(max, blockMs, this.acks::flush);
    }

    /**
     * A loop with workers keeps each key's messages in order (see {@link PartitionReader#handOutSeveral}): under
     * {@code dead-letter} the reader hands out several of a key at once from now on. Whether the loop must key by
     * stream: always, the key's order being the broker's promise.
     */
    boolean keepsOrderPerStream() {
        if (poison == Poison.DEAD_LETTER) {
            reader.handOutSeveral();
        }
        return true;
    }

    boolean mayStart(Message message) {
        return reader.mayStart(message);
    }

    int ackAll(List<String> messageIds) {
        return acks.ackAll(messageIds);
    }

    boolean ack(String messageId) {
        return acks.ackAll(List.of(messageId)) == 1;
    }

    boolean nack(String messageId) {
        return acks.nack(messageId);
    }

    boolean moveToDeadLetters(String messageId, String reason) {
        return acks.moveToDeadLetters(messageId, reason);
    }

    List<Partitions.HaltedKey> halted() {
        return halted.halted();
    }

    boolean resolve(String key, HaltedKeys.Resolution resolution) {
        return halted.resolve(key, resolution);
    }

    /** Sends the acks held back (see {@link PartitionAcks#defer}); a failure is logged, those messages come again. */
    void flushAcks() {
        try {
            acks.flush();
        } catch (RuntimeException e) {
            System.getLogger("dev.courier.redis").log(System.Logger.Level.WARNING, "group ''{0}'' of stream ''{1}'': "
                    + "the acknowledgements held back failed ({2}); those messages come again", group, category,
                    e.getClass().getSimpleName());
        }
    }

    /** Stops the heartbeat and gives back every lease, so that other instances take the keys on their next beat. */
    @Override
    public void close() {
        heartbeat.close();
        flushAcks(); // what the loop handled is acknowledged before the leases go
        acks.close();
        reader.close();
        synchronized (owned) {
            List<OwnedKey> all = owned.snapshot();
            for (int from = 0; from < all.size(); from += CHUNK) {
                owned.release(List.copyOf(all.subList(from, Math.min(all.size(), from + CHUNK))));
            }
            owned.wake();
        }
        heartbeat.leave();
    }

    /** For tests: the live owners seen at the last heartbeat. */
    int liveOwners() {
        return heartbeat.liveOwners();
    }
}
