package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerConfigurationException;
import dev.courier.BrokerName;
import dev.courier.Brokers;
import dev.courier.CapabilityTier;
import dev.courier.Message;
import dev.courier.testing.FixedBroker;
import dev.courier.testing.TestConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import org.jboss.weld.junit5.EnableWeld;
import org.jboss.weld.junit5.WeldInitiator;
import org.jboss.weld.junit5.WeldSetup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@EnableWeld
class BrokerInjectionTest {

    static TestConfig config;

    @BeforeAll
    static void configure() {
        config = TestConfig.of(Map.of(
                "brokers.default.provider", "inline",
                "brokers.notifications.provider", "inline",
                "brokers.notifications.max-retries", "5",
                "brokers.custom.provider", "recording"));
    }

    @AfterAll
    static void release() {
        config.close();
    }

    @WeldSetup
    WeldInitiator weld = WeldInitiator.from(WeldInitiator.createWeld()
                    .addExtension(new CourierExtension())
                    .addBeanClasses(Publisher.class, RecordingProvider.class))
            .build();

    @Inject
    Brokers brokers;

    @Inject
    Broker defaultBroker;

    @Inject
    @BrokerName("notifications")
    Broker notifications;

    @Inject
    Publisher publisher;

    @Test
    void the_default_broker_is_injected_plainly() {
        assertEquals("default", defaultBroker.name());
        assertEquals("inline", defaultBroker.provider());
        assertSame(brokers.defaultBroker(), defaultBroker);
    }

    @Test
    void a_named_broker_is_injected_with_broker_name() {
        assertEquals("notifications", notifications.name());
        assertSame(brokers.get("notifications"), notifications);
        assertEquals(5, notifications.healthStats().details().get("max_retries"));
    }

    @Test
    void the_registry_knows_every_configured_broker_default_first() {
        assertEquals(List.of("default", "notifications", "custom"), List.copyOf(brokers.names()));
    }

    @Test
    void proteans_example_publishes_through_the_registry_and_reads_back() {
        String id = publisher.registerUser("123");
        Message message = defaultBroker.getNext("user-events", "welcome").orElseThrow();
        assertEquals(id, message.id());
        assertEquals("user.registered", message.type());
        assertEquals("123", message.payload().get("user_id"));
    }

    @Test
    void an_unknown_name_looked_up_at_run_time_lists_the_configured_brokers() {
        BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class,
                () -> brokers.get("analytics"));
        assertTrue(e.getMessage().contains("configured brokers: [default, notifications, custom]"), e.getMessage());
        Instance<Broker> lookup = weld.select(Broker.class, BrokerName.Literal.of("analytics"));
        assertThrows(BrokerConfigurationException.class, lookup::get);
    }

    @Test
    void a_provider_that_is_a_cdi_bean_builds_brokers() {
        Broker custom = brokers.get("custom");
        assertEquals("recording", custom.provider());
        assertEquals(CapabilityTier.BASIC_PUBSUB, custom.tier());
    }

    @ApplicationScoped
    static class Publisher {
        @Inject
        Brokers brokers;

        String registerUser(String userId) {
            return brokers.publish("user-events", Map.of(
                    "event_type", "user.registered", "user_id", userId, "email", "user@example.com"));
        }
    }

    /** A custom provider, found as a CDI bean. */
    @ApplicationScoped
    static class RecordingProvider implements dev.courier.spi.BrokerProvider {
        @Override
        public String name() {
            return "recording";
        }

        @Override
        public Broker create(String brokerName, dev.courier.spi.BrokerSettings settings) {
            return new FixedBroker(brokerName, "recording", Set.of(dev.courier.BrokerCapability.PUBLISH,
                    dev.courier.BrokerCapability.SUBSCRIBE));
        }
    }
}
