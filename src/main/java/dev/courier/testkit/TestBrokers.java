package dev.courier.testkit;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.Brokers;
import dev.courier.Message;
import dev.courier.engine.Engine;
import dev.courier.engine.LoopStatus;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Assertions on an application's brokers in a test: what was published to a stream, and waiting until the
 * stream's subscribers have handled it. A Weld test makes one with {@link #fromCdi()} (the running container's
 * brokers, looked up at first use, so a field will do), a Java SE test with {@link #of(Brokers, Engine)}.
 *
 * <p>It sees a stream's messages by reading them as a consumer group of its own, {@value #GROUP}, which it
 * acknowledges at once: the application's groups are not touched. On an {@code inline} broker a new group reads a
 * stream from its start, so {@link #published} is everything published since the application started.
 */
public final class TestBrokers {

    /** The consumer group the assertions read as. */
    public static final String GROUP = "courier-testkit";

    /** How long {@link #awaitHandled(String)} waits by default. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private static final String CDI_API = "jakarta.enterprise.inject.spi.CDI";

    private final Supplier<Brokers> brokers;
    private final Supplier<Engine> engine;
    private final Map<String, List<Message>> seen = new LinkedHashMap<>();

    private TestBrokers(Supplier<Brokers> brokers, Supplier<Engine> engine) {
        this.brokers = brokers;
        this.engine = engine;
    }

    /**
     * Assertions on these brokers and engine: {@code TestBrokers.of(runner.brokers(), runner.engine())} for a
     * {@link dev.courier.se.CourierRunner}.
     */
    public static TestBrokers of(Brokers brokers, Engine engine) {
        Objects.requireNonNull(brokers, "brokers");
        Objects.requireNonNull(engine, "engine");
        return new TestBrokers(() -> brokers, () -> engine);
    }

    /**
     * Assertions on the running CDI container's brokers and engine, looked up at each use:
     * {@code TestBrokers brokers = TestBrokers.fromCdi();} as a field of a Weld test.
     *
     * @throws IllegalStateException the CDI API is not on the class path
     */
    public static TestBrokers fromCdi() {
        try {
            Class.forName(CDI_API, false, TestBrokers.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new IllegalStateException("TestBrokers.fromCdi() needs a CDI container, and the CDI API is not on "
                    + "the class path; in a Java SE test use TestBrokers.of(runner.brokers(), runner.engine())");
        }
        return new TestBrokers(CdiBeans::brokers, CdiBeans::engine);
    }

    /** The application's brokers (in sync mode, those that run the subscribers on publish). */
    public Brokers brokers() {
        return brokers.get();
    }

    /** The messages published to a stream of the default broker so far, oldest first. */
    public List<Message> published(String stream) {
        return published(Brokers.DEFAULT, stream);
    }

    /** The messages published to a stream of the named broker so far, oldest first. */
    public synchronized List<Message> published(String broker, String stream) {
        Broker b = brokers().get(broker);
        if (!b.hasCapability(BrokerCapability.CONSUMER_GROUPS)) {
            throw new IllegalStateException("broker '" + broker + "' (" + b.provider() + ") has no consumer groups: "
                    + "its messages cannot be read back; switch it to inline with @CourierTest(inline = \"" + broker
                    + "\")");
        }
        List<Message> messages = seen.computeIfAbsent(broker + '\u0000' + stream, k -> new ArrayList<>());
        List<Message> batch;
        while (!(batch = b.read(stream, GROUP, 100)).isEmpty()) {
            messages.addAll(batch);
            b.ackAll(stream, batch.stream().map(Message::id).toList(), GROUP);
        }
        return List.copyOf(messages);
    }

    /**
     * Asserts that something was published to the stream (default broker).
     *
     * @return the last message published
     * @throws AssertionError nothing was
     */
    public Message assertPublished(String stream) {
        List<Message> messages = published(stream);
        if (messages.isEmpty()) {
            throw new AssertionError("nothing was published to stream '" + stream + "'");
        }
        return messages.get(messages.size() - 1);
    }

    /**
     * Asserts how many messages were published to the stream (default broker).
     *
     * @return those messages, oldest first
     * @throws AssertionError another number was; the message lists them
     */
    public List<Message> assertPublished(String stream, int count) {
        List<Message> messages = published(stream);
        if (messages.size() != count) {
            throw new AssertionError("expected " + count + " message(s) published to stream '" + stream + "', but "
                    + messages.size() + " were: " + messages.stream().map(Message::payload).toList());
        }
        return messages;
    }

    /** {@link #awaitHandled(String, String, Duration)} on the default broker, for up to 10 s. */
    public void awaitHandled(String stream) {
        awaitHandled(Brokers.DEFAULT, stream, DEFAULT_TIMEOUT);
    }

    /**
     * Waits until every subscriber group on the stream has dealt with every message published to it so far:
     * handled it, skipped it (no handler for its type) or dead-lettered it. In sync mode a publish from the test's
     * thread returns only after that; this is for messages published elsewhere (another thread, a retry).
     *
     * @throws AssertionError no subscriber consumes the stream, or the time ran out; the message shows the loops'
     *                        figures
     */
    public void awaitHandled(String broker, String stream, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            int total = published(broker, stream).size();
            List<LoopStatus> loops = engine.get().status().loops().stream()
                    .filter(l -> l.broker().equals(broker) && l.stream().equals(stream)).toList();
            if (loops.isEmpty()) {
                throw new AssertionError("no subscriber consumes stream '" + stream + "' of broker '" + broker + "'");
            }
            // The broker's dead-letter queue holds what it gave up on after max-retries, and what loops put there.
            Broker b = brokers().get(broker);
            long deadLetters = b.hasCapability(BrokerCapability.DEAD_LETTER_QUEUE) ? b.deadLetterDepth(stream) : -1;
            if (loops.stream().allMatch(l -> l.handled() + l.skipped()
                    + (deadLetters >= 0 ? deadLetters : l.unbindable()) >= total)) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("the " + total + " message(s) published to stream '" + stream
                        + "' were not all handled within " + timeout.toMillis() + " ms: " + loops);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
    }
}
