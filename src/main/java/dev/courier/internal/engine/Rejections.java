package dev.courier.internal.engine;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.Message;
import dev.courier.internal.telemetry.Telemetry;
import dev.courier.spi.AbstractBroker;

import java.lang.System.Logger.Level;
import java.util.concurrent.atomic.LongAdder;

/**
 * Tells a loop's broker of the messages that were not handled: a failed handling is rejected (nacked), a payload no
 * handler can take is dead-lettered; each is logged, observed and counted.
 */
final class Rejections {

    private static final System.Logger LOG = System.getLogger("dev.courier.engine");

    private final Broker broker;
    private final String stream;
    private final String group;
    private final boolean acknowledges;
    /** The loop, as its log lines name it. */
    private final Object loop;
    final LongAdder failed = new LongAdder();
    final LongAdder unbindable = new LongAdder();
    final LongAdder deadLettered = new LongAdder();
    final LongAdder halted = new LongAdder();

    Rejections(Broker broker, String stream, String group, Object loop) {
        this.broker = broker;
        this.stream = stream;
        this.group = group;
        this.acknowledges = broker.hasCapability(BrokerCapability.ACK_NACK);
        this.loop = loop;
    }

    /** Whether a rejection now delivers the message again (else the broker dead-letters or discards it). */
    boolean redeliversAfterNack(Message message) {
        return !(broker instanceof AbstractBroker adapter) || adapter.redeliversAfterNack(message.deliveryCount());
    }

    /** How a message given up on is settled: dead-lettered, or discarded where the broker keeps no dead letters. */
    private Telemetry.Settlement givenUp() {
        return broker instanceof AbstractBroker adapter && !adapter.keepsDeadLetters()
                ? Telemetry.Settlement.DISCARD : Telemetry.Settlement.DEAD_LETTER;
    }

    /** Whether a rejection past max-retries halts the message's key (partition-poison=halt) instead of settling it. */
    private boolean haltsOnPoison() {
        return broker instanceof AbstractBroker adapter && adapter.haltsOnPoison(stream, group);
    }

    void reject(Message message, ConsumptionLoop.Handler handler, Throwable error, Telemetry.Process observed) {
        failed.increment();
        nack(message, handler, error, observed);
    }

    private void nack(Message message, ConsumptionLoop.Handler handler, Throwable error, Telemetry.Process observed) {
        if (acknowledges) {
            LOG.log(Level.WARNING, "{0}: {1} failed on message {2} (delivery {3}); rejected, for the broker to deliver again or "
                    + "dead-letter: {4}",
                    loop, handler.subscription().description(), ConsumptionLoop.id(message), message.deliveryCount(),
                    error);
            LOG.log(Level.DEBUG, "stack trace", error);
            Telemetry.Settlement settlement = redeliversAfterNack(message) ? Telemetry.Settlement.NACK
                    : haltsOnPoison() ? Telemetry.Settlement.HALT : givenUp();
            Telemetry.Settle settle = observed.settle(settlement);
            try {
                broker.nack(stream, message.id(), group);
            } catch (RuntimeException e) {
                settle.end(e);
                throw e;
            }
            settle.end(null);
            if (settlement == Telemetry.Settlement.DEAD_LETTER) {
                deadLettered.increment();
            } else if (settlement == Telemetry.Settlement.HALT) {
                halted.increment();
            }
        } else {
            LOG.log(Level.ERROR, "{0}: {1} failed on message {2}; broker ''{3}'' has no ACK_NACK, so the message is "
                    + "not delivered again", loop, handler.subscription().description(), ConsumptionLoop.id(message),
                    broker.name());
            LOG.log(Level.ERROR, "the handler's error", error);
        }
    }

    void deadLetter(Message message, ConsumptionLoop.Handler handler, String reason, Telemetry.Process observed) {
        unbindable.increment();
        Telemetry.Settlement settlement = givenUp();
        Telemetry.Settle settle = broker.hasCapability(BrokerCapability.DEAD_LETTER_QUEUE)
                ? observed.settle(settlement) : Telemetry.Settle.NONE;
        boolean moved;
        try {
            moved = broker.moveToDeadLetters(stream, message.id(), group, reason);
        } catch (RuntimeException e) {
            settle.end(e);
            throw e;
        }
        settle.end(null);
        if (moved) {
            if (settlement == Telemetry.Settlement.DEAD_LETTER) {
                deadLettered.increment();
            }
            String what = settlement == Telemetry.Settlement.DEAD_LETTER ? "dead-lettered"
                    : "discarded (enable-dlq is false)";
            LOG.log(Level.WARNING, "{0}: message {1} {2}: {3} cannot take it: {4}", loop, ConsumptionLoop.id(message),
                    what, handler.subscription().description(), reason);
            return;
        }
        // No dead-letter queue: the broker's own policy decides, as for a failing handler.
        nack(message, handler, new IllegalArgumentException(reason), observed);
    }
}
