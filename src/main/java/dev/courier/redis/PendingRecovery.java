package dev.courier.redis;

import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.redis.RedisConnection.LuaScript;
import dev.courier.redis.RedisConnection.RedisReplyException;
import dev.courier.spi.RetryPolicy;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XClaimParams;
import redis.clients.jedis.params.XPendingParams;
import redis.clients.jedis.resps.StreamConsumerInfo;
import redis.clients.jedis.resps.StreamEntry;
import redis.clients.jedis.resps.StreamPendingEntry;
import redis.clients.jedis.util.SafeEncoder;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a group's pending entries list owes its readers, claimed back with XCLAIM and XAUTOCLAIM: rejected entries
 * waiting on {@value RedisBroker#RETRY_CONSUMER} once their retry delay has passed, the entries this consumer name
 * held before this broker was created or before Redis last could not be reached, and the entries of consumers that
 * crashed or hang (idle past {@code message-timeout}). It also removes idle consumers of earlier runs, and hands a
 * group's orphaned entries over to a named consumer.
 *
 * <p>The at-least-once rule it keeps: an entry leaves the pending entries list only by an acknowledgement or a
 * dead letter, never by a claim; each claim keeps the delivery count, so that an entry delivered more often than
 * {@code max-retries} allows is dead-lettered rather than delivered again; and XCLAIM's min-idle never takes an
 * entry from a reader that has just claimed it.
 */
final class PendingRecovery {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");

    /** How many retry entries one look at the retry consumer's PEL considers. */
    private static final int RETRY_SCAN = 100;
    /** How often a reader looks for retries rejected by other instances. */
    private static final long RETRY_POLL_MS = 1000;
    private static final long MIN_RECLAIM_INTERVAL_MS = 100;
    private static final long MAX_RECLAIM_INTERVAL_MS = 30_000;

    /**
     * Removes a consumer only if it holds no pending entry and has been idle long enough, atomically, so that an
     * entry it reads meanwhile is never dropped with it.
     */
    private static final LuaScript DELETE_IDLE_CONSUMER = LuaScript.of("""
            pcall(redis.replicate_commands)
            local consumers = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
            for _, c in ipairs(consumers) do
              local fields = {}
              for i = 1, #c, 2 do fields[c[i]] = c[i + 1] end
              if fields['name'] == ARGV[2] then
                if fields['pending'] == 0 and fields['idle'] >= tonumber(ARGV[3]) then
                  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
                end
                return -1
              end
            end
            return -1
            """);

    private final String name;
    private final RedisConnection connection;
    private final RetryPolicy policy;
    private final String consumer;
    private final ConsumerGroups groups;
    private final Delivery delivery;
    private final DeadLetterQueue deadLetters;
    private final Counters counters;
    private final long reclaimIntervalMs;
    private volatile boolean reclaimSupported = true;
    private volatile boolean consumerCleanupSupported = true;

    PendingRecovery(String name, RedisConnection connection, RetryPolicy policy, String consumer,
                    ConsumerGroups groups, Delivery delivery, DeadLetterQueue deadLetters, Counters counters) {
        this.name = name;
        this.connection = connection;
        this.policy = policy;
        this.consumer = consumer;
        this.groups = groups;
        this.delivery = delivery;
        this.deadLetters = deadLetters;
        this.counters = counters;
        this.reclaimIntervalMs = Math.max(MIN_RECLAIM_INTERVAL_MS,
                Math.min(MAX_RECLAIM_INTERVAL_MS, policy.messageTimeout().toMillis() / 2));
    }

    /** Whether the group's next XAUTOCLAIM is due (and Redis has the command). */
    boolean reclaimDue(GroupState g, long now) {
        return reclaimSupported && now >= g.nextReclaimAt;
    }

    /** Claims the group's rejected entries whose retry delay has passed. */
    void retries(GroupState g, List<Message> out, int max, long now) {
        List<StreamPendingEntry> pending;
        try {
            pending = connection.execute("XPENDING", j -> j.xpending(g.stream, g.group,
                    XPendingParams.xPendingParams("-", "+", RETRY_SCAN).consumer(RedisBroker.RETRY_CONSUMER)));
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP")) {
                return; // the read of new entries creates it again
            }
            throw e;
        }
        long seen = g.nextRetryCheckAt();
        long next = now + RETRY_POLL_MS;
        List<StreamEntryID> due = new ArrayList<>();
        Map<StreamEntryID, Long> counts = new HashMap<>();
        long minIdle = Long.MAX_VALUE;
        for (StreamPendingEntry p : pending) {
            long delay = policy.delayBeforeRetry((int) Math.min(Integer.MAX_VALUE, p.getDeliveredTimes())).toMillis();
            if (p.getIdleTime() < delay) {
                next = Math.min(next, now + delay - p.getIdleTime());
            } else if (out.size() + due.size() < max) {
                due.add(p.getID());
                counts.put(p.getID(), p.getDeliveredTimes());
                minIdle = Math.min(minIdle, delay);
            } else {
                next = now; // due, but no room in this batch
            }
        }
        g.retryCheckedUntil(seen, next);
        if (due.isEmpty()) {
            return;
        }
        long idle = minIdle;
        // min-idle makes the claim fail for an entry another reader has just claimed.
        List<StreamEntry> claimed = connection.execute("XCLAIM", j -> j.xclaim(g.stream, g.group, consumer, idle,
                XClaimParams.xClaimParams(), due.toArray(new StreamEntryID[0])));
        for (StreamEntry entry : claimed) {
            if (entry == null) {
                continue;
            }
            Long count = counts.get(entry.getID());
            delivery.deliver(g, entry, count == null ? 1 : (int) Math.min(Integer.MAX_VALUE, count + 1), out);
        }
    }

    /**
     * Delivers again the entries that this consumer name held before this broker was created, or when its group was
     * next read after Redis could not be reached: read by an earlier run of this instance, or by this one around the
     * failure, and never acknowledged (it stopped with a batch half done, crashed, lost its acks to the outage, or
     * lost the reply of a read that Redis served). Without this they would wait for {@code message-timeout} (300 s by
     * default), since XREADGROUP {@code >} gives only new entries. The consumer's pending entries are looked at in id
     * order, a batch per read, until the end; one counts as left over if it has been idle since before that moment,
     * so that what this broker delivers itself afterwards is never taken from its reader, and XCLAIM's min-idle keeps
     * it so on the server. Past {@code max-retries} deliveries a left-over entry is dead-lettered, as a reclaimed one
     * is.
     */
    void leftovers(GroupState g, List<Message> out, int max, long now) {
        String from = g.leftoverCursor;
        int count = max - out.size();
        List<StreamPendingEntry> pending;
        try {
            pending = connection.execute("XPENDING", j -> j.xpending(g.stream, g.group,
                    XPendingParams.xPendingParams(from, "+", count).consumer(consumer)));
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP")) {
                return; // the read of new entries creates it again, empty
            }
            throw e;
        }
        long sinceCreated = Math.max(0, now - g.leftoverSince);
        List<StreamEntryID> left = new ArrayList<>();
        Map<StreamEntryID, Long> counts = new HashMap<>();
        for (StreamPendingEntry p : pending) {
            if (p.getIdleTime() >= sinceCreated) {
                left.add(p.getID());
                counts.put(p.getID(), p.getDeliveredTimes() + 1); // XCLAIM counts this delivery
            }
        }
        g.leftoverCursor = pending.size() < count ? null : StreamEntries.next(pending.get(pending.size() - 1).getID());
        if (left.isEmpty()) {
            return;
        }
        List<StreamEntry> claimed = connection.execute("XCLAIM", j -> j.xclaim(g.stream, g.group, consumer,
                sinceCreated, XClaimParams.xClaimParams(), left.toArray(new StreamEntryID[0])));
        int redelivered = 0;
        for (StreamEntry entry : claimed) {
            if (entry == null) {
                continue; // deleted while pending (Redis 6.2 and earlier)
            }
            if (redeliver(g, entry, counts.getOrDefault(entry.getID(), 1L), out)) {
                redelivered++;
            }
        }
        if (redelivered > 0) {
            int n = redelivered;
            LOG.log(Level.INFO, () -> "broker '" + name + "': consumer '" + consumer + "' held " + n
                    + " unacknowledged entries of stream '" + g.stream + "' for group '" + g.group
                    + "' from an earlier run or an interrupted one; delivering them again");
        }
    }

    /**
     * Claims entries held longer than {@code message-timeout} (their consumer crashed or hangs) with XAUTOCLAIM,
     * carrying the cursor from read to read until a scan of the PEL is complete.
     */
    void reclaim(GroupState g, List<Message> out, int max, long now) {
        String cursor = g.reclaimCursor;
        int count = max - out.size();
        List<Object> reply;
        try {
            reply = connection.execute("XAUTOCLAIM", j -> StreamEntries.castList(j.sendCommand(
                    g.stream, Protocol.Command.XAUTOCLAIM, g.stream, g.group, consumer,
                    Long.toString(policy.messageTimeout().toMillis()), cursor, "COUNT", Integer.toString(count))));
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP")) {
                return;
            }
            if (e.is("ERR unknown command") || e.is("ERR Unknown") || e.is("ERR syntax")) {
                reclaimSupported = false;
                LOG.log(Level.WARNING, "broker ''{0}'': Redis at {1} has no XAUTOCLAIM (Redis 6.2+): entries of "
                        + "crashed consumers are not reclaimed", name, connection.describe());
                return;
            }
            throw e;
        }
        String nextCursor = SafeEncoder.encode((byte[]) reply.get(0));
        boolean complete = StreamEntries.ZERO.equals(nextCursor);
        g.reclaimCursor = complete ? StreamEntries.ZERO : nextCursor;
        g.nextReclaimAt = complete ? now + reclaimIntervalMs : now;

        List<Object> entries = StreamEntries.castList(reply.get(1));
        if (!entries.isEmpty()) {
            List<StreamEntry> claimed = new ArrayList<>(entries.size());
            for (Object item : entries) {
                if (item == null) {
                    continue;
                }
                List<Object> pair = StreamEntries.castList(item);
                StreamEntryID id = new StreamEntryID(SafeEncoder.encode((byte[]) pair.get(0)));
                if (dataNotUtf8(pair.get(1))) {
                    delivery.notUtf8(g, id.toString(), 0);
                    continue;
                }
                claimed.add(new StreamEntry(id, StreamEntries.fields(pair.get(1))));
            }
            Map<StreamEntryID, Long> counts = deliveryCounts(g, claimed);
            for (StreamEntry entry : claimed) {
                redeliver(g, entry, counts.getOrDefault(entry.getID(), 1L), out);
            }
        }
        if (reply.size() > 2 && reply.get(2) != null) {
            // Redis 7: entries deleted (trimmed) while pending, already removed from the PEL.
            for (Object deleted : StreamEntries.castList(reply.get(2))) {
                String id = SafeEncoder.encode((byte[]) deleted);
                LOG.log(Level.WARNING, "broker ''{0}'': pending entry {1} of stream ''{2}'' was deleted before it "
                        + "was acknowledged; dead-lettering what is known of it", name, id, g.stream);
                deadLetters.writeQuietly(g, id, null, 0, DeadLetter.MALFORMED);
            }
        }
        if (complete && consumerCleanupSupported) {
            removeIdleConsumers(g);
        }
    }

    /**
     * Delivers a claimed entry again, counting this delivery in {@code deliveryCount}, or dead-letters it when it was
     * delivered and never acknowledged more often than max-retries allows; whether it was delivered.
     */
    private boolean redeliver(GroupState g, StreamEntry entry, long deliveryCount, List<Message> out) {
        int deliveries = (int) Math.min(Integer.MAX_VALUE, deliveryCount);
        if (policy.exhausted(deliveries - 1)) {
            counters.failed.increment();
            deadLetters.writeQuietly(g, entry.getID().toString(), entry.getFields(), deliveries - 1,
                    DeadLetter.TIMEOUT);
            return false;
        }
        delivery.deliver(g, entry, deliveries, out);
        return true;
    }

    private Map<StreamEntryID, Long> deliveryCounts(GroupState g, List<StreamEntry> claimed) {
        if (claimed.isEmpty()) {
            return Map.of();
        }
        StreamEntryID first = claimed.get(0).getID();
        StreamEntryID last = claimed.get(claimed.size() - 1).getID();
        List<StreamPendingEntry> pending = connection.execute("XPENDING", j -> j.xpending(g.stream, g.group,
                XPendingParams.xPendingParams(first, last, claimed.size()).consumer(consumer)));
        Map<StreamEntryID, Long> counts = new HashMap<>();
        for (StreamPendingEntry p : pending) {
            counts.put(p.getID(), p.getDeliveredTimes());
        }
        return counts;
    }

    /**
     * Removes consumers of earlier runs (another consumer name, such as a restarted instance's) that hold nothing and
     * have been idle longer than {@code message-timeout}, so that consumers do not pile up.
     */
    private void removeIdleConsumers(GroupState g) {
        try {
            long idleMs = Math.max(policy.messageTimeout().toMillis(), MIN_RECLAIM_INTERVAL_MS);
            List<StreamConsumerInfo> consumers = connection.execute("XINFO CONSUMERS",
                    j -> j.xinfoConsumers2(g.stream, g.group));
            for (StreamConsumerInfo c : consumers) {
                if (c.getPending() == 0 && c.getIdle() >= idleMs && !c.getName().equals(consumer)
                        && !c.getName().equals(RedisBroker.RETRY_CONSUMER)) {
                    Object removed = connection.eval("XGROUP DELCONSUMER", DELETE_IDLE_CONSUMER,
                            List.of(g.stream), List.of(g.group, c.getName(), Long.toString(idleMs)));
                    if (removed instanceof Long n && n >= 0) {
                        LOG.log(Level.DEBUG, () -> "broker '" + name + "': removed idle consumer '" + c.getName()
                                + "' of group '" + g.group + "'");
                    }
                }
            }
        } catch (RedisReplyException e) {
            // No EVAL (ACL) or no such command: idle consumers stay, which is harmless.
            consumerCleanupSupported = false;
            LOG.log(Level.INFO, "broker ''{0}'': idle consumers are not removed: {1}", name, e.reply());
        }
    }

    /** Whether an entry's fields, as XAUTOCLAIM gives them, hold a data field that is not UTF-8. */
    private static boolean dataNotUtf8(Object raw) {
        byte[] data = StreamEntries.data(StreamEntries.castList(raw));
        return data != null && StreamEntries.utf8(data) == null;
    }

    /**
     * Rejects a message a consumer of the group holds: moves it to {@value RedisBroker#RETRY_CONSUMER} to wait for
     * its retry, or dead-letters it once it has been delivered as often as {@code max-retries} allows.
     */
    boolean nack(String stream, String id, String group) {
        StreamEntryID entryId = StreamEntries.parseId(id);
        if (entryId == null) {
            return false;
        }
        StreamPendingEntry entry = heldEntry(stream, group, entryId);
        if (entry == null) {
            return false;
        }
        int deliveries = (int) Math.min(Integer.MAX_VALUE, entry.getDeliveredTimes());
        GroupState g = groups.state(stream, group);
        counters.failed.increment();
        if (policy.exhausted(deliveries)) {
            deadLetters.write(g, id, null, deliveries, DeadLetter.MAX_RETRIES_EXCEEDED, entry.getConsumerName());
            return true;
        }
        // JUSTID keeps the delivery count; the claim resets the idle time, from which the retry delay counts.
        List<StreamEntryID> moved = connection.execute("XCLAIM", j -> j.xclaimJustId(stream, group,
                RedisBroker.RETRY_CONSUMER, 0, XClaimParams.xClaimParams(), entryId));
        if (moved.isEmpty()) {
            return false; // acknowledged meanwhile
        }
        g.retryDueBy(System.currentTimeMillis() + policy.delayBeforeRetry(deliveries).toMillis());
        return true;
    }

    /**
     * Claims for {@code to} what no running Courier consumer of the group will deliver: every entry waiting on
     * {@value RedisBroker#RETRY_CONSUMER}, and the entries idle for longer than {@code message-timeout} of consumers
     * idle as long. XCLAIM JUSTID keeps each delivery count; its min-idle leaves an entry a live consumer took
     * meanwhile.
     */
    int handOver(String stream, String group, String to) {
        if (to.equals(RedisBroker.RETRY_CONSUMER)) {
            throw new IllegalArgumentException("consumer must not be '" + RedisBroker.RETRY_CONSUMER + "', which only "
                    + "holds entries waiting for a retry; give a consumer that reads the group");
        }
        List<StreamConsumerInfo> consumers;
        try {
            consumers = connection.execute("XINFO CONSUMERS", j -> j.xinfoConsumers2(stream, group));
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP") || e.is("ERR no such key")) {
                return 0;
            }
            throw e;
        }
        long timeout = policy.messageTimeout().toMillis();
        int moved = 0;
        for (StreamConsumerInfo c : consumers) {
            boolean retries = c.getName().equals(RedisBroker.RETRY_CONSUMER);
            if (c.getName().equals(to) || c.getPending() == 0 || !retries && c.getIdle() < timeout) {
                continue;
            }
            long minIdle = retries ? 0 : timeout;
            String from = "-";
            while (true) {
                String start = from;
                List<StreamPendingEntry> page = connection.execute("XPENDING", j -> j.xpending(stream, group,
                        XPendingParams.xPendingParams(start, "+", RETRY_SCAN).consumer(c.getName())));
                if (page.isEmpty()) {
                    break;
                }
                StreamEntryID[] ids = page.stream().map(StreamPendingEntry::getID).toArray(StreamEntryID[]::new);
                moved += connection.execute("XCLAIM", j -> j.xclaimJustId(stream, group, to, minIdle,
                        XClaimParams.xClaimParams(), ids)).size();
                if (page.size() < RETRY_SCAN) {
                    break;
                }
                from = StreamEntries.next(ids[ids.length - 1]);
            }
        }
        int n = moved;
        LOG.log(Level.INFO, () -> "broker '" + name + "': handed " + n + " pending entries of stream '" + stream
                + "' for group '" + group + "' over to consumer '" + to + "'");
        return moved;
    }

    /**
     * The pending entry of a message a consumer of the group holds, or {@code null} when it is not delivered,
     * already done, or waiting for its retry.
     */
    StreamPendingEntry heldEntry(String stream, String group, StreamEntryID entryId) {
        List<StreamPendingEntry> pending;
        try {
            pending = connection.execute("XPENDING", j -> j.xpending(stream, group,
                    XPendingParams.xPendingParams(entryId, entryId, 1)));
        } catch (RedisReplyException e) {
            if (e.is("NOGROUP")) {
                return null;
            }
            throw e;
        }
        return pending.isEmpty() || RedisBroker.RETRY_CONSUMER.equals(pending.get(0).getConsumerName()) ? null
                : pending.get(0);
    }
}
