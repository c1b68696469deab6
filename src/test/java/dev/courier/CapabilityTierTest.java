package dev.courier;

import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.Set;

import static dev.courier.BrokerCapability.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CapabilityTierTest {

    @Test
    void tiers_have_the_documented_members() {
        assertEquals(EnumSet.of(PUBLISH, SUBSCRIBE), CapabilityTier.BASIC_PUBSUB.capabilities());
        assertEquals(EnumSet.of(PUBLISH, SUBSCRIBE, CONSUMER_GROUPS), CapabilityTier.SIMPLE_QUEUING.capabilities());
        assertEquals(EnumSet.of(PUBLISH, SUBSCRIBE, CONSUMER_GROUPS, ACK_NACK, DELIVERY_GUARANTEES),
                CapabilityTier.RELIABLE_MESSAGING.capabilities());
        assertEquals(EnumSet.of(PUBLISH, SUBSCRIBE, CONSUMER_GROUPS, ACK_NACK, DELIVERY_GUARANTEES, MESSAGE_ORDERING),
                CapabilityTier.ORDERED_MESSAGING.capabilities());
        assertEquals(EnumSet.allOf(BrokerCapability.class), CapabilityTier.ENTERPRISE_STREAMING.capabilities());
    }

    @Test
    void each_tier_is_a_strict_superset_of_the_one_before() {
        CapabilityTier[] tiers = CapabilityTier.values();
        for (int i = 1; i < tiers.length; i++) {
            Set<BrokerCapability> lower = tiers[i - 1].capabilities();
            Set<BrokerCapability> higher = tiers[i].capabilities();
            assertTrue(higher.containsAll(lower) && higher.size() > lower.size(), tiers[i] + " over " + tiers[i - 1]);
        }
    }

    @Test
    void the_tier_of_a_capability_set_is_the_highest_fully_covered() {
        assertEquals(CapabilityTier.SIMPLE_QUEUING,
                CapabilityTier.of(EnumSet.of(PUBLISH, SUBSCRIBE, CONSUMER_GROUPS, ACK_NACK, DEAD_LETTER_QUEUE)));
        assertEquals(CapabilityTier.ENTERPRISE_STREAMING, CapabilityTier.of(EnumSet.allOf(BrokerCapability.class)));
        assertNull(CapabilityTier.of(EnumSet.of(PUBLISH)));
    }
}
