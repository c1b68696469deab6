package dev.courier;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

import static dev.courier.BrokerCapability.ACK_NACK;
import static dev.courier.BrokerCapability.CONSUMER_GROUPS;
import static dev.courier.BrokerCapability.DELIVERY_GUARANTEES;
import static dev.courier.BrokerCapability.MESSAGE_ORDERING;
import static dev.courier.BrokerCapability.PUBLISH;
import static dev.courier.BrokerCapability.SUBSCRIBE;

/**
 * Named sets of capabilities, each a strict superset of the one before.
 *
 * <pre>{@code
 * if (broker.hasAllCapabilities(CapabilityTier.RELIABLE_MESSAGING.capabilities())) { ... }
 * CapabilityTier tier = CapabilityTier.of(broker.capabilities());   // the highest tier fully covered
 * }</pre>
 */
public enum CapabilityTier {
    /** Fire-and-forget publishing and reading. */
    BASIC_PUBSUB(EnumSet.of(PUBLISH, SUBSCRIBE)),
    /** Basic pub/sub plus consumer groups. */
    SIMPLE_QUEUING(EnumSet.of(PUBLISH, SUBSCRIBE, CONSUMER_GROUPS)),
    /** Simple queuing plus acknowledgement, rejection and redelivery. */
    RELIABLE_MESSAGING(EnumSet.of(PUBLISH, SUBSCRIBE, CONSUMER_GROUPS, ACK_NACK, DELIVERY_GUARANTEES)),
    /** Reliable messaging plus delivery in publishing order. */
    ORDERED_MESSAGING(EnumSet.of(PUBLISH, SUBSCRIBE, CONSUMER_GROUPS, ACK_NACK, DELIVERY_GUARANTEES,
            MESSAGE_ORDERING)),
    /** Everything: blocking reads, dead-letter queue, replay and partitioning as well. */
    ENTERPRISE_STREAMING(EnumSet.allOf(BrokerCapability.class));

    private final Set<BrokerCapability> capabilities;

    CapabilityTier(EnumSet<BrokerCapability> capabilities) {
        this.capabilities = Collections.unmodifiableSet(capabilities);
    }

    /** The capabilities this tier requires (unmodifiable). */
    public Set<BrokerCapability> capabilities() {
        return capabilities;
    }

    /** Whether the given capabilities include every capability of this tier. */
    public boolean isMetBy(Set<BrokerCapability> available) {
        return available.containsAll(capabilities);
    }

    /** The highest tier that the given capabilities fully cover, or {@code null} when not even BASIC_PUBSUB. */
    public static CapabilityTier of(Set<BrokerCapability> available) {
        CapabilityTier highest = null;
        for (CapabilityTier tier : values()) {
            if (tier.isMetBy(available)) {
                highest = tier;
            }
        }
        return highest;
    }
}
