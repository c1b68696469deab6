package dev.courier.spi;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.BrokerException;
import dev.courier.DeadLetter;
import dev.courier.DomainEvent;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.PartialPublishException;
import dev.courier.internal.ProteanEnvelope;
import dev.courier.internal.telemetry.Outgoing;
import dev.courier.internal.telemetry.PublishRecorder;
import dev.courier.internal.telemetry.Telemetry;
import dev.courier.internal.JsonCodec;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The base of a broker adapter, as Protean's base broker: it checks arguments, turns the published object into a
 * payload, refuses a message larger than the broker's {@code max-message-size}, and answers operations the broker
 * lacks the capability for (reads give nothing, ack/nack give {@code false}, a warning logged once) before they reach
 * the adapter's {@code do*} methods.
 */
public abstract class AbstractBroker implements Broker {

    private static final System.Logger LOG = System.getLogger("dev.courier");

    private final String name;
    private final String provider;
    private final Set<BrokerCapability> capabilities;
    private final Instant created = Instant.now();
    private final Set<String> warned = ConcurrentHashMap.newKeySet();
    private final long maxMessageSize;
    private final PublishRecorder publishing;

    /** A broker that takes messages of any size. */
    protected AbstractBroker(String name, String provider, Set<BrokerCapability> capabilities) {
        this(name, provider, capabilities, Long.MAX_VALUE);
    }

    /**
     * @param maxMessageSize the most bytes a message's JSON text may have in UTF-8
     *                       ({@link BrokerSettings#MAX_MESSAGE_SIZE}); publishing refuses a larger message
     */
    protected AbstractBroker(String name, String provider, Set<BrokerCapability> capabilities, long maxMessageSize) {
        if (maxMessageSize < 1) {
            throw new IllegalArgumentException("maxMessageSize must be at least 1, was " + maxMessageSize);
        }
        this.maxMessageSize = maxMessageSize;
        this.name = requireName(name, "broker name");
        this.provider = requireName(provider, "provider");
        this.capabilities = Collections.unmodifiableSet(
                capabilities.isEmpty() ? EnumSet.noneOf(BrokerCapability.class) : EnumSet.copyOf(capabilities));
        this.publishing = new PublishRecorder(this.name, this.provider);
    }

    /**
     * Reports this broker's publishes to {@code telemetry} (traces, metrics). Not API: Courier's engine sets it when
     * it is built, before the application publishes.
     */
    public final void useTelemetry(Telemetry telemetry) {
        publishing.use(telemetry);
    }

    /**
     * The W3C trace context ({@code traceparent}, {@code tracestate}) of the publish running on this thread, for
     * the adapter to store with the message; empty when the publish is not traced.
     */
    protected final Map<String, String> traceContext() {
        return publishing.traced() ? Outgoing.context() : Map.of();
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final String provider() {
        return provider;
    }

    @Override
    public final Set<BrokerCapability> capabilities() {
        return capabilities;
    }

    @Override
    public final String publish(String stream, Object message) {
        requireName(stream, "stream");
        if (!hasCapability(BrokerCapability.PUBLISH)) {
            throw new BrokerException("broker '" + name + "' (" + provider + ") cannot publish");
        }
        PublishRecorder.Publish publish = publishing.start(stream, 1, traceparentOf(message));
        String id = null;
        Throwable error = null;
        try {
            Object traced = traced(message, publish.context());
            if (sendsJson()) {
                Map<String, ?> fields = fields(traced);
                String json = fields == traced ? JsonCodec.toJson(traced) : JsonCodec.write(fields);
                requireSize(json, "message");
                id = doPublishJson(stream, json, fields);
            } else {
                Map<String, Object> payload = JsonCodec.toPayload(traced);
                requireSize(payload, "message");
                id = doPublish(stream, payload);
            }
            return id;
        } catch (RuntimeException | Error e) {
            error = e;
            throw e;
        } finally {
            publish.end(id == null ? 0 : 1, id, error);
        }
    }

    /**
     * The fields a message's JSON is written from: a map as given (written in one pass by {@link JsonCodec#toJson},
     * which checks it), else its payload ({@link JsonCodec#toPayload}); what {@code toJson} does, split so that the
     * adapter can read a field without parsing the JSON again.
     */
    @SuppressWarnings("unchecked")
    private static Map<String, ?> fields(Object message) {
        return message instanceof Map<?, ?> map ? (Map<String, ?>) map : JsonCodec.toPayload(message);
    }

    /** The traceparent a message carries itself: a Protean event's; {@code null} for any other, or untraced. */
    private String traceparentOf(Object message) {
        if (!publishing.traced()) {
            return null;
        }
        if (message instanceof DomainEvent event) {
            return event.traceparent();
        }
        if (message instanceof Map<?, ?> map && map.get("metadata") instanceof Map<?, ?>) {
            @SuppressWarnings("unchecked")
            Map<String, ?> payload = (Map<String, ?>) map;
            return ProteanEnvelope.traceparent(payload);
        }
        return null;
    }

    /** A Protean event carries the publish's trace context in its envelope ({@code metadata.headers.traceparent}). */
    private static Object traced(Object message, Map<String, String> context) {
        String traceparent = context.get("traceparent");
        return traceparent != null && message instanceof DomainEvent event && ProteanEnvelope.isTraceparent(traceparent)
                ? event.withTraceparent(traceparent) : message;
    }

    @Override
    public final Optional<Message> getNext(String stream, String group) {
        List<Message> messages = read(stream, group, 1);
        return messages.isEmpty() ? Optional.empty() : Optional.of(messages.get(0));
    }

    @Override
    public final List<Message> read(String stream, String group, int max) {
        requireName(stream, "stream");
        requireName(group, "consumer group");
        if (max < 1) {
            throw new IllegalArgumentException("max must be at least 1, was " + max);
        }
        if (!supports(BrokerCapability.SUBSCRIBE, "read")) {
            return List.of();
        }
        return doRead(stream, group, max);
    }

    @Override
    public final List<Message> read(String stream, String group, int max, Duration block) {
        requireName(stream, "stream");
        requireName(group, "consumer group");
        if (max < 1) {
            throw new IllegalArgumentException("max must be at least 1, was " + max);
        }
        if (block == null || block.isNegative()) {
            throw new IllegalArgumentException("block must be zero or more, was " + block);
        }
        if (!supports(BrokerCapability.SUBSCRIBE, "read")) {
            return List.of();
        }
        // Without BLOCKING_READ this is a plain read: the caller polls.
        return hasCapability(BrokerCapability.BLOCKING_READ) && !block.isZero()
                ? doRead(stream, group, max, block) : doRead(stream, group, max);
    }

    @Override
    public final List<Message> read(String stream, String group, int max, Duration block,
                                    List<String> acknowledge) {
        if (acknowledge == null) {
            throw new IllegalArgumentException("acknowledge must not be null");
        }
        for (String id : acknowledge) {
            requireName(id, "message id");
        }
        if (acknowledge.isEmpty() || !hasCapability(BrokerCapability.ACK_NACK)) {
            return read(stream, group, max, block);
        }
        requireName(stream, "stream");
        requireName(group, "consumer group");
        if (max < 1) {
            throw new IllegalArgumentException("max must be at least 1, was " + max);
        }
        if (block == null || block.isNegative()) {
            throw new IllegalArgumentException("block must be zero or more, was " + block);
        }
        if (!hasCapability(BrokerCapability.SUBSCRIBE)) {
            doAckAll(stream, acknowledge, group);
            return List.of();
        }
        return doAckAndRead(stream, group, acknowledge, max,
                hasCapability(BrokerCapability.BLOCKING_READ) ? block : Duration.ZERO);
    }

    @Override
    public final List<String> publishAll(String stream, List<?> messages) {
        requireName(stream, "stream");
        if (messages == null) {
            throw new IllegalArgumentException("messages must not be null");
        }
        if (!hasCapability(BrokerCapability.PUBLISH)) {
            throw new BrokerException("broker '" + name + "' (" + provider + ") cannot publish");
        }
        if (messages.isEmpty()) {
            return List.of();
        }
        PublishRecorder.Publish publish = publishing.start(stream, messages.size(),
                messages.size() == 1 ? traceparentOf(messages.get(0)) : null);
        List<String> ids = null;
        Throwable error = null;
        try {
            ids = publishAll(stream, messages, publish.context());
            return ids;
        } catch (RuntimeException | Error e) {
            error = e;
            throw e;
        } finally {
            int stored = ids != null ? ids.size()
                    : error instanceof PartialPublishException partial ? partial.storedIds().size() : 0;
            publish.end(stored, ids != null && ids.size() == 1 ? ids.get(0) : null, error);
        }
    }

    private List<String> publishAll(String stream, List<?> messages, Map<String, String> context) {
        // Every message is checked before any is sent.
        if (sendsJson()) {
            List<String> texts = new java.util.ArrayList<>(messages.size());
            // Kept only where the adapter reads them: a batch's payloads would outweigh its texts.
            List<Map<String, ?>> fields = readsFields(stream) ? new java.util.ArrayList<>(messages.size()) : null;
            for (Object message : messages) {
                Object traced = traced(message, context);
                Map<String, ?> f = fields(traced);
                String json = f == traced ? JsonCodec.toJson(traced) : JsonCodec.write(f);
                requireSize(json, which(texts.size(), messages.size()));
                texts.add(json);
                if (fields != null) {
                    fields.add(f);
                }
            }
            return doPublishAllJson(stream, texts, fields);
        }
        List<Map<String, Object>> payloads = new java.util.ArrayList<>(messages.size());
        for (Object message : messages) {
            Map<String, Object> payload = JsonCodec.toPayload(traced(message, context));
            requireSize(payload, which(payloads.size(), messages.size()));
            payloads.add(payload);
        }
        return doPublishAll(stream, payloads);
    }

    @Override
    public final boolean replay(String stream, String group, String fromId) {
        requireName(stream, "stream");
        requireName(group, "consumer group");
        requireName(fromId, "message id");
        return supports(BrokerCapability.REPLAY, "replay") && doReplay(stream, group, fromId);
    }

    @Override
    public final long trim(String stream, long maxLength) {
        requireName(stream, "stream");
        if (maxLength < 0) {
            throw new IllegalArgumentException("maxLength must be zero or more, was " + maxLength);
        }
        return doTrim(stream, maxLength);
    }

    @Override
    public final boolean ack(String stream, String id, String group) {
        requireArguments(stream, id, group);
        return supports(BrokerCapability.ACK_NACK, "ack") && doAck(stream, id, group);
    }

    @Override
    public final int ackAll(String stream, List<String> ids, String group) {
        requireName(stream, "stream");
        requireName(group, "consumer group");
        if (ids == null) {
            throw new IllegalArgumentException("ids must not be null");
        }
        for (String id : ids) {
            requireName(id, "message id");
        }
        return ids.isEmpty() || !supports(BrokerCapability.ACK_NACK, "ack") ? 0 : doAckAll(stream, ids, group);
    }

    @Override
    public final boolean nack(String stream, String id, String group) {
        requireArguments(stream, id, group);
        return supports(BrokerCapability.ACK_NACK, "nack") && doNack(stream, id, group);
    }

    @Override
    public final boolean ping() {
        try {
            return doPing();
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "ping of broker '" + name + "' failed: " + e.getClass().getName());
            return false;
        }
    }

    @Override
    public final HealthStats healthStats() {
        try {
            HealthStats stats = doHealthStats();
            Map<String, Object> published = publishing.details();
            if (published.isEmpty()) {
                return stats;
            }
            Map<String, Object> details = new java.util.LinkedHashMap<>(stats.details());
            details.put("published", published);
            return new HealthStats(stats.status(), stats.connected(), stats.lastPing(), stats.uptime(),
                    stats.messageCounts(), details);
        } catch (RuntimeException e) {
            // The exception's text may carry connection details: report its type only.
            return new HealthStats(HealthStats.Status.UNHEALTHY, false, null, uptime(),
                    new HealthStats.MessageCounts(0, 0, 0, 0), Map.of("error", e.getClass().getName()));
        }
    }

    @Override
    public final List<DeadLetter> deadLetters(String stream, int limit) {
        requireName(stream, "stream");
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be at least 1, was " + limit);
        }
        return supports(BrokerCapability.DEAD_LETTER_QUEUE, "deadLetters") ? doDeadLetters(stream, limit) : List.of();
    }

    @Override
    public final Optional<DeadLetter> deadLetter(String stream, String deadLetterId) {
        requireName(stream, "stream");
        requireName(deadLetterId, "dead letter id");
        return supports(BrokerCapability.DEAD_LETTER_QUEUE, "deadLetter")
                ? doDeadLetter(stream, deadLetterId) : Optional.empty();
    }

    @Override
    public final boolean replayDeadLetter(String stream, String deadLetterId) {
        requireName(stream, "stream");
        requireName(deadLetterId, "dead letter id");
        return supports(BrokerCapability.DEAD_LETTER_QUEUE, "replayDeadLetter")
                && doReplayDeadLetter(stream, deadLetterId);
    }

    @Override
    public final int replayAllDeadLetters(String stream) {
        requireName(stream, "stream");
        return supports(BrokerCapability.DEAD_LETTER_QUEUE, "replayAllDeadLetters") ? doReplayAllDeadLetters(stream) : 0;
    }

    @Override
    public final int purgeDeadLetters(String stream) {
        requireName(stream, "stream");
        return supports(BrokerCapability.DEAD_LETTER_QUEUE, "purgeDeadLetters") ? doPurgeDeadLetters(stream) : 0;
    }

    @Override
    public final long deadLetterDepth(String stream) {
        requireName(stream, "stream");
        return supports(BrokerCapability.DEAD_LETTER_QUEUE, "deadLetterDepth") ? doDeadLetterDepth(stream) : 0;
    }

    @Override
    public final boolean moveToDeadLetters(String stream, String id, String group, String reason) {
        requireArguments(stream, id, group);
        requireName(reason, "reason");
        return supports(BrokerCapability.DEAD_LETTER_QUEUE, "moveToDeadLetters")
                && doMoveToDeadLetters(stream, id, group, reason);
    }

    @Override
    public final int handOver(String stream, String group, String consumer) {
        requireName(stream, "stream");
        requireName(group, "consumer group");
        requireName(consumer, "consumer");
        return doHandOver(stream, group, consumer);
    }

    /** The most bytes a message's JSON text may have in UTF-8 ({@code max-message-size}). */
    protected final long maxMessageSize() {
        return maxMessageSize;
    }

    private void requireSize(String json, String which) {
        // A character takes at most 3 bytes in UTF-8 (a pair of them 4): most texts need no count.
        if (json.length() * 3L > maxMessageSize) {
            requireSize(JsonCodec.utf8Length(json), which);
        }
    }

    private void requireSize(Map<String, Object> payload, String which) {
        if (maxMessageSize != Long.MAX_VALUE) {
            requireSize(JsonCodec.jsonSize(payload), which);
        }
    }

    private void requireSize(long size, String which) {
        if (size > maxMessageSize) {
            throw new IllegalArgumentException(which + " is " + size + " bytes of JSON, more than brokers." + name
                    + "." + BrokerSettings.MAX_MESSAGE_SIZE + " (" + maxMessageSize + " bytes); nothing was sent");
        }
    }

    private static String which(int index, int count) {
        return "message " + (index + 1) + " of " + count;
    }

    /** How long this broker object has existed. */
    protected final Duration uptime() {
        return Duration.between(created, Instant.now());
    }

    /** Whether the broker has the capability; if not, logs a warning the first time an operation asks for it. */
    protected final boolean supports(BrokerCapability capability, String operation) {
        if (hasCapability(capability)) {
            return true;
        }
        if (warned.add(operation)) {
            LOG.log(Level.WARNING, "broker ''{0}'' ({1}) does not have capability {2}: {3} does nothing",
                    name, provider, capability, operation);
        }
        return false;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + ", provider=" + provider + "]";
    }

    // What an adapter implements. Arguments are checked; payloads are unmodifiable, non-empty JSON objects.

    protected abstract String doPublish(String stream, Map<String, Object> payload);

    protected abstract List<Message> doRead(String stream, String group, int max);

    protected abstract boolean doPing();

    protected abstract HealthStats doHealthStats();

    /**
     * Whether this adapter sends messages as JSON text: then publishing calls {@link #doPublishJson} and
     * {@link #doPublishAllJson} with the checked text written in one pass, rather than
     * {@link #doPublish} with a copied payload map that the adapter would only serialise.
     */
    protected boolean sendsJson() {
        return false;
    }

    /** Publishes a checked message as its JSON text (a non-empty object); called where {@link #sendsJson()}. */
    protected String doPublishJson(String stream, String json) {
        return doPublish(stream, JsonCodec.parse(json));
    }

    /**
     * As {@link #doPublishJson(String, String)}, with the fields the JSON was written from (the caller's map, or the
     * payload made of the message), to read and neither change nor keep: an adapter that needs a field of the message
     * (a partition key) reads it there rather than parsing the JSON again.
     */
    protected String doPublishJson(String stream, String json, Map<String, ?> fields) {
        return doPublishJson(stream, json);
    }

    /**
     * As {@link #doPublishAllJson(String, List)}, with each message's fields (see {@link #doPublishJson}) where
     * {@link #readsFields} says the adapter reads them for the stream, else {@code null}.
     */
    protected List<String> doPublishAllJson(String stream, List<String> texts, List<Map<String, ?>> fields) {
        return doPublishAllJson(stream, texts);
    }

    /** Whether {@link #doPublishAllJson(String, List, List)} is to be given the messages' fields for the stream. */
    protected boolean readsFields(String stream) {
        return false;
    }

    /** Publishes checked messages as their JSON texts, in order; called where {@link #sendsJson()}. */
    protected List<String> doPublishAllJson(String stream, List<String> texts) {
        List<String> ids = new java.util.ArrayList<>(texts.size());
        for (String json : texts) {
            ids.add(doPublishJson(stream, json));
        }
        return ids;
    }

    /**
     * Whether a message delivered {@code deliveryCount} times comes again if it is rejected now, rather than being
     * dead-lettered; {@code true} where the adapter follows no {@link #retryPolicy()}.
     */
    public final boolean redeliversAfterNack(int deliveryCount) {
        RetryPolicy policy = retryPolicy();
        return policy == null || !policy.exhausted(deliveryCount);
    }

    /**
     * Whether what this adapter gives up on goes to its dead-letter queue; {@code false} where its
     * {@link #retryPolicy()} has {@code enable-dlq=false}: it is dropped (acknowledged, counted as discarded).
     */
    public final boolean keepsDeadLetters() {
        RetryPolicy policy = retryPolicy();
        return policy == null || policy.deadLetterEnabled();
    }

    /**
     * Whether a message of the group rejected past {@code max-retries} halts its key instead of being dead-lettered
     * or discarded: it stays at the head, owned, until an operator acts (a partitioned stream under
     * {@code partition-poison=halt}). {@code false} unless the adapter halts.
     */
    public boolean haltsOnPoison(String stream, String group) {
        return false;
    }

    /**
     * Called once by a loop with workers before it reads, which keeps the messages of each {@link Message#stream()}
     * in order through retries: whether it must. An adapter that answers {@code true} (a partitioned stream's, whose
     * messages name their partition as their stream) may then hand out several messages of one partition at once,
     * and the loop asks {@link #mayStart} before each handler. {@code false} by default.
     */
    public boolean keepsOrderPerStream(String stream, String group) {
        return false;
    }

    /**
     * Called by an engine for each of its loops before any of them starts: an adapter whose group can be consumed by
     * one loop only in this instance (a partitioned stream's, whose keys one reader hands out) throws
     * {@link IllegalStateException} naming the stream and group when another loop (of another engine on this broker)
     * holds it. {@code loop} identifies the loop; {@link #releaseLoop} gives the group back. Nothing by default.
     */
    public void claimLoop(String stream, String group, Object loop) {
        // any number of loops by default
    }

    /**
     * The loop claimed by {@link #claimLoop} has stopped (after its last read): its group is free, its read ahead
     * ({@link #readAhead}) ends. Nothing by default.
     */
    public void releaseLoop(String stream, String group, Object loop) {
        // nothing claimed by default
    }

    /**
     * Where {@link #keepsOrderPerStream} said so, before a handler starts on a message handed out: whether it may
     * (the partition is surely still this consumer's). If not, the loop leaves the message unacknowledged and the
     * adapter sees to its redelivery. {@code true} by default.
     */
    public boolean mayStart(String stream, String group, Message message) {
        return true;
    }

    /**
     * How many messages the loop of the group can hold beside its next read ({@code max}; 0 for none from now on):
     * a loop that handles each read's messages before it reads again says it before its first read (a batch by
     * default), a loop with workers before each read, as its window's room changes. While a backlog lasts the
     * adapter may then send the group's next read (of at most {@code max}, never waiting for messages) before it
     * returns the one asked for, so that the broker prepares it while the loop handles these; what is in flight
     * when {@code max} drops is returned by the next read. What was read ahead and not returned when the loop stops
     * ({@link #releaseLoop}) must stay unacknowledged, to be delivered again. Does nothing by default: no read ahead.
     */
    public void readAhead(String stream, String group, int max) {
    }

    /** The policy by which {@link #doNack} delivers again or dead-letters; {@code null} when it follows none. */
    protected RetryPolicy retryPolicy() {
        return null;
    }

    /**
     * Acknowledges checked ids (not empty), then reads; {@code block} is zero without BLOCKING_READ. Adapters that
     * can send both in one round trip override this.
     */
    protected List<Message> doAckAndRead(String stream, String group, List<String> ids, int max, Duration block) {
        doAckAll(stream, ids, group);
        return block.isZero() ? doRead(stream, group, max) : doRead(stream, group, max, block);
    }

    /** A read that may wait up to {@code block} (not zero) for messages; only called with BLOCKING_READ. */
    protected List<Message> doRead(String stream, String group, int max, Duration block) {
        return doRead(stream, group, max);
    }

    /** Publishes checked payloads in order; adapters that can batch override this. */
    protected List<String> doPublishAll(String stream, List<Map<String, Object>> payloads) {
        List<String> ids = new java.util.ArrayList<>(payloads.size());
        for (Map<String, Object> payload : payloads) {
            ids.add(doPublish(stream, payload));
        }
        return ids;
    }

    protected boolean doReplay(String stream, String group, String fromId) {
        return false;
    }

    protected long doTrim(String stream, long maxLength) {
        return 0;
    }

    protected boolean doAck(String stream, String id, String group) {
        return false;
    }

    /** Acknowledges checked ids (not empty); adapters that can do it in one round trip override this. */
    protected int doAckAll(String stream, List<String> ids, String group) {
        int acknowledged = 0;
        for (String id : ids) {
            if (doAck(stream, id, group)) {
                acknowledged++;
            }
        }
        return acknowledged;
    }

    protected boolean doNack(String stream, String id, String group) {
        return false;
    }

    protected List<DeadLetter> doDeadLetters(String stream, int limit) {
        return List.of();
    }

    protected Optional<DeadLetter> doDeadLetter(String stream, String deadLetterId) {
        return Optional.empty();
    }

    protected boolean doReplayDeadLetter(String stream, String deadLetterId) {
        return false;
    }

    protected int doReplayAllDeadLetters(String stream) {
        return 0;
    }

    protected int doPurgeDeadLetters(String stream) {
        return 0;
    }

    protected long doDeadLetterDepth(String stream) {
        return 0;
    }

    /** Moves a message the group holds to the dead-letter queue; only called on brokers with DEAD_LETTER_QUEUE. */
    protected boolean doMoveToDeadLetters(String stream, String id, String group, String reason) {
        return false;
    }

    /** Hands stranded messages over to a consumer (see {@link Broker#handOver}); brokers without such state give 0. */
    protected int doHandOver(String stream, String group, String consumer) {
        return 0;
    }

    private static void requireArguments(String stream, String id, String group) {
        requireName(stream, "stream");
        requireName(id, "message id");
        requireName(group, "consumer group");
    }

    private static String requireName(String value, String what) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(what + " must not be " + (value == null ? "null" : "blank"));
        }
        return value;
    }
}
