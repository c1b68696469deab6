package dev.courier.inline;

import dev.courier.BrokerCapability;
import dev.courier.DeadLetter;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.spi.AbstractBroker;
import dev.courier.spi.Maintained;
import dev.courier.spi.MaintenancePolicy;
import dev.courier.spi.Retention;
import dev.courier.spi.RetryPolicy;

import java.lang.System.Logger.Level;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiPredicate;
import java.util.function.Function;

/**
 * An in-memory broker. Each stream is an append-only log; each consumer group has a position in it, the messages
 * it holds (delivered, not yet acknowledged) and the messages waiting for a retry. One lock per stream.
 *
 * <p>A rejected message comes back after {@code retry-delay * backoff-multiplier^(n-1)}; after {@code max-retries}
 * rejections, or when held longer than {@code message-timeout}, it goes to the stream's dead-letter queue.
 *
 * <p>The log keeps what some known group has not read yet, and, for groups created later, the last
 * {@code max-length} entries that every group has passed (fewer with {@code retention}); older entries are dropped
 * as messages are published. A message a group holds or waits to retry stays with that group until it is
 * acknowledged or dead-lettered, whatever the log keeps. Dead letters older than {@code dead-letter-retention} are
 * dropped by {@link #maintain()}.
 */
final class InlineBroker extends AbstractBroker implements Maintained {

    private static final System.Logger LOG = System.getLogger("dev.courier.inline");

    static final EnumSet<BrokerCapability> CAPABILITIES = EnumSet.of(
            BrokerCapability.PUBLISH, BrokerCapability.SUBSCRIBE, BrokerCapability.CONSUMER_GROUPS,
            BrokerCapability.ACK_NACK, BrokerCapability.DELIVERY_GUARANTEES, BrokerCapability.DEAD_LETTER_QUEUE);

    /**
     * Ten thousand entries of history per stream: about 4 MB at the 430 bytes a message the benchmark measures,
     * enough for a group deployed a little later than the publisher to start from the beginning (declared in
     * {@link dev.courier.internal.CourierOptions#INLINE_MAX_LENGTH}).
     */
    static final int DEFAULT_MAX_LENGTH = Integer.parseInt(dev.courier.internal.CourierOptions.INLINE_MAX_LENGTH
            .defaultValue());

    private final RetryPolicy policy;
    private final Retention retention;
    private final MaintenancePolicy maintenance;
    private final InstantSource clock;
    private final Map<String, StreamLog> streams = new ConcurrentHashMap<>();
    private final String idPrefix;
    private final AtomicLong sequence = new AtomicLong();
    private final LongAdder published = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder deadLettered = new LongAdder();
    private final LongAdder discarded = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    private final LongAdder deadLettersExpired = new LongAdder();

    InlineBroker(String name, RetryPolicy policy, InstantSource clock) {
        this(name, policy, new Retention(DEFAULT_MAX_LENGTH, java.time.Duration.ZERO), MaintenancePolicy.DEFAULT,
                clock);
    }

    InlineBroker(String name, RetryPolicy policy, Retention retention, MaintenancePolicy maintenance,
                 InstantSource clock) {
        this(name, policy, retention, maintenance, clock, InlineBrokerProvider.DEFAULT_MAX_MESSAGE_SIZE);
    }

    InlineBroker(String name, RetryPolicy policy, Retention retention, MaintenancePolicy maintenance,
                 InstantSource clock, long maxMessageSize) {
        super(name, InlineBrokerProvider.NAME, CAPABILITIES, maxMessageSize);
        this.policy = policy;
        this.retention = retention;
        this.maintenance = maintenance;
        this.clock = clock;
        this.idPrefix = clock.millis() + "-";
    }

    RetryPolicy policy() {
        return policy;
    }

    @Override
    protected RetryPolicy retryPolicy() {
        return policy;
    }

    @Override
    protected String doPublish(String stream, Map<String, Object> payload) {
        long now = clock.millis();
        Entry entry = new Entry(nextId(), payload, now, traceContext());
        StreamLog log = log(stream);
        synchronized (log) {
            log.entries.add(entry);
            retain(log, now);
        }
        published.increment();
        return entry.id;
    }

    /** All of them under one lock, so that a reader sees all or none of them, as one batch. */
    @Override
    protected List<String> doPublishAll(String stream, List<Map<String, Object>> payloads) {
        long now = clock.millis();
        Map<String, String> context = traceContext();
        List<String> ids = new ArrayList<>(payloads.size());
        StreamLog log = log(stream);
        synchronized (log) {
            for (Map<String, Object> payload : payloads) {
                Entry entry = new Entry(nextId(), payload, now, context);
                log.entries.add(entry);
                ids.add(entry.id);
            }
            retain(log, now);
        }
        published.add(payloads.size());
        return ids;
    }

    @Override
    protected List<Message> doRead(String stream, String group, int max) {
        StreamLog log = log(stream);
        List<Message> messages = new ArrayList<>(Math.min(max, 16));
        synchronized (log) {
            long now = clock.millis();
            Group g = log.group(group);
            expire(log, g, group, now);
            // Retries that are due come first, then messages the group has not seen.
            while (messages.size() < max && !g.retryOrder.isEmpty() && g.retryOrder.firstKey().dueAt <= now) {
                Waiting w = g.retryOrder.pollFirstEntry().getValue();
                g.waiting.remove(w.entry.id);
                messages.add(deliver(stream, g, w.entry, w.deliveries + 1, now));
            }
            while (messages.size() < max && g.position < log.entries.end()) {
                messages.add(deliver(stream, g, log.entries.get(g.position++), 1, now));
            }
        }
        return messages;
    }

    private static Message deliver(String stream, Group g, Entry entry, int deliveries, long now) {
        g.inFlight.put(entry.id, new Delivery(entry, deliveries, now));
        return new Message(entry.id, stream, entry.payload, deliveries, entry.traceContext);
    }

    @Override
    protected boolean doAck(String stream, String id, String group) {
        return withGroup(stream, group, (log, g) -> {
            expire(log, g, group, clock.millis());
            return acknowledge(g, id);
        });
    }

    private static boolean acknowledge(Group g, String id) {
        if (g.inFlight.remove(id) != null) {
            return true;
        }
        // A rejected message that waits for its retry may still be acknowledged: it is then done.
        Waiting waiting = g.waiting.remove(id);
        if (waiting != null) {
            g.retryOrder.remove(waiting.key());
        }
        return waiting != null;
    }

    /** Under one lock. */
    @Override
    protected int doAckAll(String stream, List<String> ids, String group) {
        int[] acknowledged = {0};
        withGroup(stream, group, (log, g) -> {
            expire(log, g, group, clock.millis());
            for (String id : ids) {
                if (acknowledge(g, id)) {
                    acknowledged[0]++;
                }
            }
            return true;
        });
        return acknowledged[0];
    }

    @Override
    protected boolean doNack(String stream, String id, String group) {
        return withGroup(stream, group, (log, g) -> {
            long now = clock.millis();
            expire(log, g, group, now);
            Delivery delivery = g.inFlight.remove(id);
            if (delivery == null) {
                return false;
            }
            failed.increment();
            int rejections = delivery.deliveries;
            if (policy.exhausted(rejections)) {
                deadLetter(log, delivery, group, DeadLetter.MAX_RETRIES_EXCEEDED, now);
            } else {
                Waiting w = new Waiting(delivery.entry, delivery.deliveries,
                        now + policy.delayBeforeRetry(rejections).toMillis(), log.waitingSequence++);
                g.waiting.put(id, w);
                g.retryOrder.put(w.key(), w);
            }
            return true;
        });
    }

    /** Runs an action on a group under its stream's lock; an unknown stream or group gives {@code false}. */
    private boolean withGroup(String stream, String group, BiPredicate<StreamLog, Group> action) {
        return withLog(stream, false, log -> {
            Group g = log.groups.get(group);
            return g != null && action.test(log, g);
        });
    }

    @Override
    protected boolean doMoveToDeadLetters(String stream, String id, String group, String reason) {
        return withGroup(stream, group, (log, g) -> {
            long now = clock.millis();
            expire(log, g, group, now);
            Delivery delivery = g.inFlight.remove(id);
            if (delivery == null) {
                return false;
            }
            failed.increment();
            deadLetter(log, delivery, group, reason, now);
            return true;
        });
    }

    /** Moves the group's messages held longer than the message timeout to the dead-letter queue. */
    private void expire(StreamLog log, Group g, String group, long now) {
        long timeout = policy.messageTimeout().toMillis();
        Iterator<Delivery> held = g.inFlight.values().iterator();
        while (held.hasNext()) {
            Delivery delivery = held.next();
            if (now - delivery.deliveredAt < timeout) {
                return; // held in delivery order: the rest are younger
            }
            held.remove();
            failed.increment();
            deadLetter(log, delivery, group, DeadLetter.TIMEOUT, now);
        }
    }

    private void deadLetter(StreamLog log, Delivery delivery, String group, String reason, long now) {
        Message message = new Message(delivery.entry.id, log.name, delivery.entry.payload, delivery.deliveries);
        if (!policy.deadLetterEnabled()) {
            discarded.increment();
            LOG.log(Level.WARNING, "broker ''{0}'': message {1} of stream ''{2}'' discarded for group ''{3}'' "
                    + "({4}); enable-dlq is false", name(), message.id(), log.name, group, reason);
            return;
        }
        String id = nextId();
        log.deadLetters.put(id, new DeadLetter(id, message, group, null, reason, delivery.deliveries,
                Instant.ofEpochMilli(now)));
        deadLettered.increment();
    }

    @Override
    protected List<DeadLetter> doDeadLetters(String stream, int limit) {
        return withLog(stream, List.of(), log -> {
            List<DeadLetter> all = new ArrayList<>(log.deadLetters.values());
            Collections.reverse(all);
            return List.copyOf(all.subList(0, Math.min(limit, all.size())));
        });
    }

    @Override
    protected Optional<DeadLetter> doDeadLetter(String stream, String deadLetterId) {
        return withLog(stream, Optional.empty(), log -> Optional.ofNullable(log.deadLetters.get(deadLetterId)));
    }

    @Override
    protected boolean doReplayDeadLetter(String stream, String deadLetterId) {
        return withLog(stream, false, log -> {
            DeadLetter letter = log.deadLetters.remove(deadLetterId);
            if (letter != null) {
                doPublish(stream, letter.message().payload());
            }
            return letter != null;
        });
    }

    @Override
    protected int doReplayAllDeadLetters(String stream) {
        return withLog(stream, 0, log -> {
            log.deadLetters.values().forEach(letter -> doPublish(stream, letter.message().payload()));
            return purge(log);
        });
    }

    @Override
    protected int doPurgeDeadLetters(String stream) {
        return withLog(stream, 0, InlineBroker::purge);
    }

    @Override
    protected long doDeadLetterDepth(String stream) {
        return withLog(stream, 0, log -> log.deadLetters.size());
    }

    private static int purge(StreamLog log) {
        int count = log.deadLetters.size();
        log.deadLetters.clear();
        return count;
    }

    /**
     * Drops the oldest entries that every group has passed, past the {@code max-length} kept for groups created
     * later, and those older than {@code retention}. Under the log's lock.
     */
    private void retain(StreamLog log, long now) {
        long passed = passed(log);
        long drop = Math.max(0, passed - retention.maxLength());
        if (retention.byAge()) {
            long cutoff = now - retention.maxAge().toMillis();
            while (drop < passed && log.entries.get(log.entries.first() + drop).at < cutoff) {
                drop++;
            }
        }
        drop(log, drop);
    }

    /** How many of the oldest retained entries every known group has read; all of them while no group is known. */
    private static long passed(StreamLog log) {
        long slowest = log.entries.end();
        for (Group g : log.groups.values()) {
            slowest = Math.min(slowest, g.position);
        }
        return slowest - log.entries.first();
    }

    private void drop(StreamLog log, long count) {
        if (count > 0) {
            log.entries.dropOldest((int) count);
            dropped.add(count);
        }
    }

    /** Drops entries every group has passed until at most {@code maxLength} remain. */
    @Override
    protected long doTrim(String stream, long maxLength) {
        return withLog(stream, 0L, log -> {
            long count = Math.min(passed(log), Math.max(0, log.entries.size() - maxLength));
            drop(log, count);
            return count;
        });
    }

    @Override
    public MaintenancePolicy maintenancePolicy() {
        return maintenance;
    }

    /** Drops expired dead letters, and entries past their {@code retention} while nothing was published. */
    @Override
    public Map<String, Long> maintain() {
        long now = clock.millis();
        Map<String, Long> depths = new TreeMap<>();
        for (StreamLog log : streams.values()) {
            synchronized (log) {
                if (maintenance.expiresDeadLetters()) {
                    long cutoff = now - maintenance.deadLetterRetention().toMillis();
                    Iterator<DeadLetter> letters = log.deadLetters.values().iterator();
                    // In the order they were dead-lettered: the first younger one ends the look.
                    while (letters.hasNext()) {
                        if (letters.next().failedAt().toEpochMilli() >= cutoff) {
                            break;
                        }
                        letters.remove();
                        deadLettersExpired.increment();
                    }
                }
                retain(log, now);
                depths.put(log.name, (long) log.deadLetters.size());
            }
        }
        return depths;
    }

    /** Runs an action on a stream's log under its lock; a stream never published to gives {@code absent}. */
    private <T> T withLog(String stream, T absent, Function<StreamLog, T> action) {
        StreamLog log = streams.get(stream);
        if (log == null) {
            return absent;
        }
        synchronized (log) {
            return action.apply(log);
        }
    }

    @Override
    protected boolean doPing() {
        return true;
    }

    @Override
    protected HealthStats doHealthStats() {
        long now = clock.millis();
        long inFlight = 0;
        for (StreamLog log : streams.values()) {
            synchronized (log) {
                for (Map.Entry<String, Group> group : log.groups.entrySet()) {
                    expire(log, group.getValue(), group.getKey(), now);
                    inFlight += group.getValue().inFlight.size();
                }
            }
        }
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("provider", provider());
        details.put("streams", streams.size());
        details.put("max_retries", policy.maxRetries());
        details.put("retry_delay_ms", policy.retryDelay().toMillis());
        details.put("backoff_multiplier", policy.backoffMultiplier());
        details.put("message_timeout_ms", policy.messageTimeout().toMillis());
        details.put("enable_dlq", policy.deadLetterEnabled());
        details.put("discarded", discarded.sum());
        details.put("max_length", retention.maxLength());
        details.put("retention_ms", retention.maxAge().toMillis());
        details.put("dropped", dropped.sum());
        details.put("dead_letter_retention_ms", maintenance.deadLetterRetention().toMillis());
        details.put("dead_letters_expired", deadLettersExpired.sum());
        return new HealthStats(HealthStats.Status.HEALTHY, true, Instant.ofEpochMilli(now), uptime(),
                new HealthStats.MessageCounts(published.sum(), inFlight, failed.sum(), deadLettered.sum()), details);
    }

    @Override
    public Map<String, Object> info() {
        Map<String, Object> streamInfo = new TreeMap<>();
        for (StreamLog log : streams.values()) {
            synchronized (log) {
                Map<String, Object> groups = new TreeMap<>();
                for (Map.Entry<String, Group> e : log.groups.entrySet()) {
                    Group g = e.getValue();
                    groups.put(e.getKey(), Map.of(
                            "position", g.position,
                            "lag", log.entries.end() - g.position,
                            "in_flight", g.inFlight.size(),
                            "waiting_retry", g.waiting.size()));
                }
                streamInfo.put(log.name, Map.of(
                        "length", log.entries.size(),
                        "groups", groups,
                        "dlq_depth", log.deadLetters.size()));
            }
        }
        return Map.of("name", name(), "provider", provider(), "streams", streamInfo);
    }

    @Override
    public void close() {
        // Nothing to release: the messages are in the heap.
    }

    private StreamLog log(String stream) {
        return streams.computeIfAbsent(stream, StreamLog::new);
    }

    private String nextId() {
        return idPrefix + sequence.incrementAndGet();
    }

    /**
     * @param at           when it was published (epoch ms)
     * @param traceContext the publish's W3C trace context, when it was traced
     */
    private record Entry(String id, Map<String, Object> payload, long at, Map<String, String> traceContext) {
    }

    /** A message a group holds: delivered, not yet acknowledged or rejected. */
    private record Delivery(Entry entry, int deliveries, long deliveredAt) {
    }

    /** A rejected message waiting for its retry. */
    private record Waiting(Entry entry, int deliveries, long dueAt, long sequence) {
        RetryKey key() {
            return new RetryKey(dueAt, sequence);
        }
    }

    private record RetryKey(long dueAt, long sequence) implements Comparable<RetryKey> {
        @Override
        public int compareTo(RetryKey o) {
            int c = Long.compare(dueAt, o.dueAt);
            return c != 0 ? c : Long.compare(sequence, o.sequence);
        }
    }

    private static final class StreamLog {
        final String name;
        final EntryLog<Entry> entries = new EntryLog<>();
        final Map<String, Group> groups = new HashMap<>();
        final LinkedHashMap<String, DeadLetter> deadLetters = new LinkedHashMap<>();
        long waitingSequence;

        StreamLog(String name) {
            this.name = name;
        }

        Group group(String group) {
            // A group created now starts at the oldest entry kept.
            return groups.computeIfAbsent(group, g -> new Group(entries.first()));
        }
    }

    private static final class Group {
        long position;
        /** By message id, in delivery order. */
        final LinkedHashMap<String, Delivery> inFlight = new LinkedHashMap<>();
        /** By message id. */
        final Map<String, Waiting> waiting = new HashMap<>();
        /** The same, ordered by due time. */
        final TreeMap<RetryKey, Waiting> retryOrder = new TreeMap<>();

        Group(long position) {
            this.position = position;
        }
    }
}
