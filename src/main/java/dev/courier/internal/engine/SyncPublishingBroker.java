package dev.courier.internal.engine;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.DeadLetter;
import dev.courier.HealthStats;
import dev.courier.Message;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * An {@code inline} broker in sync mode: {@link #publish} runs the stream's subscribers in the calling thread
 * before it returns. Everything else goes to the broker unchanged.
 */
final class SyncPublishingBroker implements Broker {

    private final Broker delegate;
    private final CourierEngine engine;

    SyncPublishingBroker(Broker delegate, CourierEngine engine) {
        this.delegate = delegate;
        this.engine = engine;
    }

    @Override
    public String publish(String stream, Object message) {
        return engine.publishSynchronously(delegate, stream, () -> delegate.publish(stream, message));
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public String provider() {
        return delegate.provider();
    }

    @Override
    public Set<BrokerCapability> capabilities() {
        return delegate.capabilities();
    }

    @Override
    public Optional<Message> getNext(String stream, String group) {
        return delegate.getNext(stream, group);
    }

    @Override
    public List<Message> read(String stream, String group, int max) {
        return delegate.read(stream, group, max);
    }

    @Override
    public List<Message> read(String stream, String group, int max, Duration block) {
        return delegate.read(stream, group, max, block);
    }

    @Override
    public List<Message> read(String stream, String group, int max, Duration block, List<String> acknowledge) {
        return delegate.read(stream, group, max, block, acknowledge);
    }

    @Override
    public boolean ack(String stream, String id, String group) {
        return delegate.ack(stream, id, group);
    }

    @Override
    public int ackAll(String stream, List<String> ids, String group) {
        return delegate.ackAll(stream, ids, group);
    }

    @Override
    public boolean nack(String stream, String id, String group) {
        return delegate.nack(stream, id, group);
    }

    @Override
    public boolean ping() {
        return delegate.ping();
    }

    @Override
    public HealthStats healthStats() {
        return delegate.healthStats();
    }

    @Override
    public Map<String, Object> info() {
        return delegate.info();
    }

    @Override
    public List<DeadLetter> deadLetters(String stream, int limit) {
        return delegate.deadLetters(stream, limit);
    }

    @Override
    public Optional<DeadLetter> deadLetter(String stream, String deadLetterId) {
        return delegate.deadLetter(stream, deadLetterId);
    }

    @Override
    public boolean replayDeadLetter(String stream, String deadLetterId) {
        // A replay publishes: in sync mode its subscribers run before it returns too.
        return engine.publishSynchronously(delegate, stream, () -> delegate.replayDeadLetter(stream, deadLetterId));
    }

    @Override
    public int replayAllDeadLetters(String stream) {
        return engine.publishSynchronously(delegate, stream, () -> delegate.replayAllDeadLetters(stream));
    }

    @Override
    public int purgeDeadLetters(String stream) {
        return delegate.purgeDeadLetters(stream);
    }

    @Override
    public long deadLetterDepth(String stream) {
        return delegate.deadLetterDepth(stream);
    }

    @Override
    public boolean moveToDeadLetters(String stream, String id, String group, String reason) {
        return delegate.moveToDeadLetters(stream, id, group, reason);
    }

    @Override
    public void partitionBy(String stream, String keyField) {
        delegate.partitionBy(stream, keyField);
    }

    @Override
    public void close() {
        delegate.close();
    }

    @Override
    public String toString() {
        return delegate + " (sync)";
    }
}
