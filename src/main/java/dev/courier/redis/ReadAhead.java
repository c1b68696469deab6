package dev.courier.redis;

import dev.courier.Message;
import redis.clients.jedis.CommandObject;
import redis.clients.jedis.CommandObjects;
import redis.clients.jedis.Connection;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.util.SafeEncoder;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A group's next read sent before the last one is handed out, while a backlog lasts: when a read gives a full batch,
 * the next XREADGROUP (never with BLOCK) goes out at once, with the XACK of the batch before, on a connection the
 * group's reader holds until the backlog ends; the next read takes its reply. So Redis prepares batch N+1 while the
 * JVM parses and handles batch N, with no second thread. Only for groups whose loop allowed it ({@link #allow}), as
 * many as it allowed. Only while the loop handles a batch quickly ({@link #QUICK_NANOS}): a read ahead makes a batch
 * wait pending for the one before it, which with slow handlers would gain nothing. A batch that waited read ahead for
 * longer than the caller's bound (half of {@code message-timeout}, before which no other consumer can have claimed
 * it) is not handed out but delivered again, which counts as a delivery against {@code max-retries}: below that bound
 * it is handed out as read, so slow handlers never cost a message one of its retries.
 *
 * <p>The at-least-once rule it keeps: the XACK carries only the ids the loop gave as handled, sent once. What was
 * read ahead and not handed out (the loop stopped first, or asked for fewer) stays pending for this consumer, and
 * the group's left-over scan delivers it again. A connection that breaks with commands in flight counts as a failed
 * read: the group's next read delivers again whatever this consumer holds, be it an XACK that may not have run or a
 * read that Redis may have served.
 */
final class ReadAhead implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");

    private static final CommandObjects COMMANDS = new CommandObjects();
    private static final byte[] UNDELIVERED = SafeEncoder.encode(">");
    /**
     * The longest a loop may take over a batch and still read ahead: with slower handlers a batch read ahead would
     * only wait, pending, for a gain of nothing.
     */
    private static final long QUICK_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(500);

    private final RedisConnection connection;
    private final byte[] consumerKey;
    private final Delivery delivery;
    private final GroupReader reader;
    private final Map<GroupState, Ahead> groups = new ConcurrentHashMap<>();

    /** One group's read ahead; its reader uses it under its monitor. */
    private static final class Ahead {
        /** The most messages a read ahead asks for; 0 once its loop stopped. */
        int most;
        /** Holds the commands in flight, {@code null} when none are: never given back with a reply unread. */
        Connection held;
        /** Whether an XACK is in flight before the read. */
        boolean acking;
        /** The read in flight (its COUNT is {@link #count}). */
        CommandObject<List<Object>> read;
        int count;
        /** When the commands in flight were sent (System.nanoTime). */
        long sentAt;
        /** When the group's last read returned, or 0. */
        long returnedAt;
        /** Past this in flight, what was read ahead is left pending rather than handed out. */
        long staleNanos;
        /** A batch handled within this is quick: only then does the next read go ahead. */
        long quickNanos;
        /**
         * Entries read ahead beyond what the read that took them asked for (its loop's window had less room, or
         * the circuit breaker probed with one): handed out first by the next reads, as read; null when none.
         */
        List<Object> rest;
        /** When the read that gave {@link #rest} was sent (System.nanoTime). */
        long restSentAt;
    }

    ReadAhead(RedisConnection connection, byte[] consumerKey, Delivery delivery, GroupReader reader) {
        this.connection = connection;
        this.consumerKey = consumerKey;
        this.delivery = delivery;
        this.reader = reader;
    }

    /**
     * Lets reads of the group go ahead by up to {@code most} messages from now on; 0 sends none ahead from now on
     * (a loop whose window is full), what is in flight being handed out by the next read. What was in flight for
     * longer than {@code stale} (well inside {@code message-timeout}, after which another consumer may claim it) is
     * not handed out: it is delivered again by the left-over scan, whose XCLAIM min-idle leaves what was claimed
     * since.
     */
    void allow(GroupState g, int most, Duration stale) {
        Ahead a = most > 0 ? groups.computeIfAbsent(g, k -> new Ahead()) : groups.get(g);
        if (a != null) {
            synchronized (a) {
                a.most = most;
                a.staleNanos = stale.toNanos();
                a.quickNanos = Math.min(QUICK_NANOS, a.staleNanos / 2);
            }
        }
    }

    /** Ends the group's read ahead (its loop stopped): what is in flight is read and left pending. */
    void end(GroupState g) {
        Ahead a = groups.remove(g);
        if (a != null) {
            synchronized (a) {
                a.most = 0;
                drop(g, a);
            }
        }
    }

    /**
     * After a read of new entries asked for {@code count} of them, with its reply not parsed yet: when it is full (a
     * backlog) and the group's next read would be a plain XREADGROUP, that read goes out now, for up to {@code max}.
     */
    void afterRead(GroupState g, List<Object> reply, int count, int max) {
        Ahead a = groups.get(g);
        if (a == null || entries(reply).size() < count) {
            return;
        }
        synchronized (a) {
            long now = System.nanoTime();
            // The first read of a backlog goes ahead: a slow first batch leaves the next one stale, not handed out.
            boolean quick = a.returnedAt == 0 || now - a.returnedAt < a.quickNanos;
            a.returnedAt = now;
            if (quick && a.most > 0 && a.held == null && reader.quiet(g)) {
                send(g, a, null, Math.min(max, a.most));
            }
        }
    }

    /**
     * Hands out first what was read ahead: up to {@code max} messages into {@code out}, the {@code acks} sent (ahead
     * with the next read, while the backlog lasts). {@code false} when nothing was read ahead, or it gave nothing:
     * the caller reads as usual, with the acks.
     *
     * @throws dev.courier.BrokerConnectionException the connection broke with commands in flight (counted as a
     *                                               failure: the next read delivers again what this consumer holds)
     */
    boolean deliver(GroupState g, int max, List<String> acks, List<Message> out) {
        Ahead a = groups.get(g);
        if (a == null) {
            return false;
        }
        synchronized (a) {
            if (a.rest != null) {
                return deliverRest(g, a, max, acks, out);
            }
            if (a.held == null) {
                return false;
            }
            long now = System.nanoTime();
            if (now - a.sentAt > a.staleNanos) {
                // The loop was held up (a slow batch): what was read ahead waited too long to be handed out now.
                drop(g, a);
                a.returnedAt = 0;
                return false;
            }
            boolean quick = now - a.returnedAt < a.quickNanos; // its last batch took so long
            int asked = a.count;
            List<Object> entries = entries(collect(g, a));
            if (entries.isEmpty() || connection.failures() != g.seenFailures) {
                // Nothing more, or a read of this broker failed meanwhile: then the caller's read delivers again
                // what this consumer holds, these entries too.
                release(a);
                return false;
            }
            boolean full = entries.size() >= asked;
            if (entries.size() > max) {
                // Asked for fewer than were read ahead (a window with less room, a probe of the circuit breaker):
                // the rest wait here for the next reads. Delivered again instead, they would count as a retry.
                a.rest = new ArrayList<>(entries.subList(max, entries.size()));
                a.restSentAt = a.sentAt;
                entries = entries.subList(0, max);
                full = false; // nothing more goes ahead while some wait
            }
            byte[][] ids = acks.isEmpty() ? null : GroupReader.entryIds(acks);
            if (!full || !quick || a.most == 0 || !reader.quiet(g) || !send(g, a, ids, Math.min(max, a.most))) {
                release(a); // the backlog ended: the next read blocks again, on the reader's own pool
                if (ids != null) {
                    try {
                        reader.ackAll(g.stream, acks, g.group);
                    } catch (RuntimeException e) {
                        redeliverHeld(g); // what was read ahead is not handed out now: it comes with the next read
                        throw e;
                    }
                }
            }
            for (Object item : entries) {
                delivery.first(g, StreamEntries.castList(item), out);
            }
            a.returnedAt = System.nanoTime();
            return true;
        }
    }

    /**
     * Hands out up to {@code max} of the entries read ahead that an earlier read did not take, after the
     * {@code acks}, sent alone; {@code false} when they waited too long, or a read failed meanwhile: then the
     * caller's read delivers them again with whatever else this consumer holds.
     */
    private boolean deliverRest(GroupState g, Ahead a, int max, List<String> acks, List<Message> out) {
        if (System.nanoTime() - a.restSentAt > a.staleNanos || connection.failures() != g.seenFailures) {
            a.rest = null;
            redeliverHeld(g);
            return false;
        }
        if (!acks.isEmpty()) {
            try {
                reader.ackAll(g.stream, acks, g.group);
            } catch (RuntimeException e) {
                a.rest = null; // the next read delivers again what this consumer holds, these too
                redeliverHeld(g);
                throw e;
            }
        }
        List<Object> taken = a.rest.size() <= max ? a.rest : a.rest.subList(0, max);
        for (Object item : taken) {
            delivery.first(g, StreamEntries.castList(item), out);
        }
        a.rest = taken == a.rest ? null : new ArrayList<>(a.rest.subList(max, a.rest.size()));
        a.returnedAt = System.nanoTime();
        return true;
    }

    /**
     * Writes the XACK of {@code ids} (unless {@code null}) and an XREADGROUP of up to {@code count}, and reads
     * nothing. {@code false} when no connection could be had: nothing was sent.
     */
    private boolean send(GroupState g, Ahead a, byte[][] ids, int count) {
        Connection c = a.held;
        if (c == null) {
            try {
                c = connection.borrow(g.streamKey);
            } catch (RuntimeException e) {
                LOG.log(Level.DEBUG, () -> "no connection to read ahead: " + e.getClass().getName());
                return false;
            }
        }
        a.held = c;
        a.acking = ids != null;
        a.count = count;
        a.sentAt = System.nanoTime();
        a.read = COMMANDS.xreadGroup(g.groupKey, consumerKey, XReadGroupParams.xReadGroupParams().count(count),
                Map.entry(g.streamKey, UNDELIVERED));
        try {
            if (ids != null) {
                c.sendCommand(COMMANDS.xack(g.streamKey, g.groupKey, ids).getArguments());
            }
            c.sendCommand(a.read.getArguments());
            c.getMany(0); // flushes, and reads nothing: the next read reads the replies
        } catch (JedisException e) {
            // What reached Redis is unknown: counted as a failure, so that the next read delivers again what this
            // consumer holds, the messages of these acks included. Nothing is sent again.
            a.held = null;
            connection.lost("XREADGROUP (read ahead)", c, g.streamKey, e);
        }
        return true;
    }

    /** Reads the replies in flight: the read's, {@code null} when Redis refused it (the caller's read finds out). */
    private List<Object> collect(GroupState g, Ahead a) {
        Connection c = a.held;
        List<Object> replies;
        try {
            replies = c.getMany(a.acking ? 2 : 1);
        } catch (JedisException e) {
            a.held = null;
            throw connection.lost("XREADGROUP (read ahead)", c, g.streamKey, e);
        }
        if (a.acking && replies.get(0) instanceof JedisDataException refused) {
            // Not acknowledged: those messages are still pending for this consumer, and come again.
            LOG.log(Level.DEBUG, () -> "XACK read ahead refused: " + refused.getMessage());
            redeliverHeld(g);
        }
        Object read = replies.get(replies.size() - 1);
        return read instanceof JedisDataException ? null : a.read.getBuilder().build(read);
    }

    /** The entries of a one-stream XREADGROUP reply ({@code [[stream, [[id, fields], ...]]]}). */
    private static List<Object> entries(List<Object> reply) {
        return reply == null || reply.isEmpty() ? List.of()
                : StreamEntries.castList(StreamEntries.castList(reply.get(0)).get(1));
    }

    /** The group's next read starts the look for what this consumer holds again: it is delivered again. */
    private static void redeliverHeld(GroupState g) {
        g.leftoverSince = System.currentTimeMillis();
        g.leftoverCursor = "-";
    }

    /** Reads what is in flight and leaves what it gave pending, delivered again by the group's next read. */
    private void drop(GroupState g, Ahead a) {
        if (a.rest != null) {
            a.rest = null;
            redeliverHeld(g);
        }
        if (a.held == null) {
            return;
        }
        try {
            if (!entries(collect(g, a)).isEmpty()) {
                redeliverHeld(g);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "dropping a read ahead: " + e.getClass().getName());
        }
        release(a);
    }

    private static void release(Ahead a) {
        if (a.held != null) {
            a.held.close(); // back to the pool, its replies read
            a.held = null;
        }
    }

    @Override
    public void close() {
        for (Map.Entry<GroupState, Ahead> e : groups.entrySet()) {
            synchronized (e.getValue()) {
                drop(e.getKey(), e.getValue());
            }
        }
        groups.clear();
    }
}
