package dev.courier.redis;

import dev.courier.BrokerConnectionException;
import dev.courier.BrokerException;
import dev.courier.PublishOutcomeUnknownException;
import dev.courier.redis.RedisConnection.RedisReplyException;
import redis.clients.jedis.CommandObjects;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.XAddParams;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Sends the XADDs of concurrent {@code publish} calls together (flat combining): each caller queues its entry; the
 * caller that finds no one sending becomes the sender, takes what is queued (up to {@value #MAX_BATCH}) and sends it
 * in one pipeline, one round trip (one per master on a cluster, where {@link RedisBroker} keeps a combiner per
 * master), while the others wait; then the next waiter whose entry is still queued takes
 * over. A lone publisher sends its own entry at once, as a plain XADD, so single-threaded publishing pays nothing.
 *
 * <p>Every call still returns only once Redis has answered for its own entry, with that entry's id or error: the
 * guarantees of {@code publish} are those of a plain XADD. A batch is written at most once
 * ({@link RedisConnection#write}): when no connection could be had, every entry of it fails as not sent; when the
 * reply does not come, every entry fails with {@link PublishOutcomeUnknownException}, never retried.
 */
final class XaddCombiner {

    /** Entries sent in one pipeline at most: bounds how long the sender spends on others' work. */
    static final int MAX_BATCH = 128;
    /** A safety net: a waiter looks again this often even if no one wakes it. */
    private static final long MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private static final XAddParams XADD = XAddParams.xAddParams();
    /** Builds the XADD commands; holds no state of a connection. */
    private static final CommandObjects COMMANDS = new CommandObjects();

    private final RedisConnection connection;
    private final ConcurrentLinkedQueue<Entry> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean sending = new AtomicBoolean();

    XaddCombiner(RedisConnection connection) {
        this.connection = connection;
    }

    /**
     * XADD stream * data json [traceparent ... tracestate ...], sent alone or with the entries of concurrent callers.
     *
     * @param context the publish's trace context (see {@link TraceFields}); empty when not traced
     * @return the entry's id
     */
    String xadd(String stream, String json, Map<String, String> context) {
        Entry entry = new Entry(stream, json, context, Thread.currentThread());
        queue.add(entry);
        boolean interrupted = false;
        while (!entry.done) {
            if (sending.compareAndSet(false, true)) {
                try {
                    if (!entry.done) {
                        sendQueued();
                    }
                } finally {
                    sending.set(false);
                }
                // Hand over: a waiter whose entry came after this batch was taken sends the next one.
                Entry next = queue.peek();
                if (next != null) {
                    LockSupport.unpark(next.caller);
                }
            } else {
                LockSupport.parkNanos(this, MAX_PARK_NANOS);
                // The XADD is under way for this caller: an interrupt does not cancel it, it is kept for after.
                interrupted |= Thread.interrupted();
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (entry.error != null) {
            throw entry.caller == entry.sender ? entry.error : inCallerThread(entry.error);
        }
        return entry.id;
    }

    private void sendQueued() {
        List<Entry> batch = new ArrayList<>(Math.min(MAX_BATCH, 16));
        Entry next;
        while (batch.size() < MAX_BATCH && (next = queue.poll()) != null) {
            batch.add(next);
        }
        if (batch.isEmpty()) {
            return;
        }
        Thread sender = Thread.currentThread();
        try {
            // One pipeline per node: on a cluster the streams of a batch may live on several masters.
            Map<Object, List<Entry>> byNode = new LinkedHashMap<>();
            for (Entry e : batch) {
                byNode.computeIfAbsent(connection.nodeOf(e.stream), k -> new ArrayList<>()).add(e);
            }
            for (List<Entry> entries : byNode.values()) {
                send(entries);
            }
        } catch (Error e) {
            for (Entry each : batch) {
                if (each.id == null && each.error == null) {
                    each.error = new BrokerException("XADD failed in the publishing thread: " + e, e);
                }
            }
            throw e;
        } finally {
            for (Entry each : batch) {
                each.sender = sender;
                each.done = true;
                if (each.caller != sender) {
                    LockSupport.unpark(each.caller);
                }
            }
        }
    }

    /** Sends entries whose streams live on one node: a plain XADD for one, one pipeline for more. */
    private void send(List<Entry> entries) {
        List<String> streams = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            streams.add(e.stream);
        }
        try {
            if (entries.size() == 1) {
                Entry only = entries.get(0);
                byte[] id = connection.write("XADD", streams,
                        c -> c.executeCommand(COMMANDS.xadd(key(only), XADD, fields(only))));
                only.id = new String(id, StandardCharsets.US_ASCII);
            } else {
                connection.write("XADD (pipelined)", streams, c -> {
                    try (Pipeline pipeline = new Pipeline(c)) {
                        List<Response<byte[]>> responses = new ArrayList<>(entries.size());
                        for (Entry e : entries) {
                            responses.add(pipeline.xadd(key(e), XADD, fields(e)));
                        }
                        pipeline.sync();
                        RedisConnection.throwIfAllRefused(responses);
                        for (int i = 0; i < entries.size(); i++) {
                            Entry e = entries.get(i);
                            try {
                                e.id = new String(responses.get(i).get(), StandardCharsets.US_ASCII);
                            } catch (JedisDataException error) {
                                // This entry's own error reply (WRONGTYPE, say); the others went in.
                                e.error = connection.translate("XADD", error);
                            }
                        }
                        return null;
                    }
                });
            }
        } catch (RuntimeException e) {
            for (Entry each : entries) {
                // With min-replicas-acked, the ids are known but the WAIT fell short: the error wins.
                if (each.error == null && (each.id == null || e instanceof PublishOutcomeUnknownException)) {
                    each.id = null;
                    each.error = e;
                }
            }
        }
    }

    private static byte[] key(Entry e) {
        return e.stream.getBytes(StandardCharsets.UTF_8);
    }

    private static Map<byte[], byte[]> fields(Entry e) {
        return TraceFields.entry(StreamEntries.DATA_BYTES, e.json, e.context);
    }

    /** The sender's exception, as one of the same type thrown in the caller's thread (with it as the cause). */
    private static RuntimeException inCallerThread(RuntimeException e) {
        if (e instanceof RedisReplyException reply) {
            return new RedisReplyException(reply.getMessage(), reply.reply(), reply);
        }
        if (e instanceof BrokerConnectionException) {
            return new BrokerConnectionException(e.getMessage(), e);
        }
        if (e instanceof PublishOutcomeUnknownException) {
            return new PublishOutcomeUnknownException(e.getMessage(), e);
        }
        if (e instanceof BrokerException) {
            return new BrokerException(e.getMessage(), e);
        }
        return new BrokerException("XADD failed: " + e, e);
    }

    /** One caller's XADD. */
    private static final class Entry {
        final String stream;
        final String json;
        final Map<String, String> context;
        final Thread caller;
        String id;
        RuntimeException error;
        Thread sender;
        /** Written last by the sender: what it wrote before is visible once this is seen. */
        volatile boolean done;

        Entry(String stream, String json, Map<String, String> context, Thread caller) {
            this.stream = stream;
            this.json = json;
            this.context = context;
            this.caller = caller;
        }
    }
}
