package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.BrokerConfigurationException;
import dev.courier.CapabilityTier;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.LocalRedisCluster;
import dev.courier.testing.WithRedisCluster;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** On a Redis Cluster partitioned streams are refused, saying why: Protean's keys span slots. */
@WithRedisCluster
class PartitionedClusterTest {

    @Test
    void a_cluster_broker_lacks_stream_partitioning_and_refuses_it_naming_the_reason(LocalRedisCluster cluster) {
        try (Broker broker = new RedisBrokerProvider().create("c", new BrokerSettings("c", "redis",
                Map.of("uri", cluster.uri())))) {
            assertFalse(broker.hasCapability(BrokerCapability.STREAM_PARTITIONING));
            assertEquals(CapabilityTier.ORDERED_MESSAGING, broker.tier());
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> broker.partitionBy("orders", "order_id"));
            assertTrue(e.getMessage().contains("do not run on a Redis Cluster"), e.getMessage());
        }
        BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class,
                () -> new RedisBrokerProvider().create("c", new BrokerSettings("c", "redis",
                        Map.of("uri", cluster.uri(), "partition-key.orders", "order_id"))));
        assertEquals("brokers.c.partition-key.orders", e.property());
        assertTrue(e.getMessage().contains("different slots"), e.getMessage());
    }
}
