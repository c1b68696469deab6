package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.testing.FixedBroker;
import dev.courier.testing.TestConfig;
import org.jboss.weld.environment.se.Weld;
import org.jboss.weld.environment.se.WeldContainer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BrokerLifecycleTest {

    static WeldContainer start() {
        return new Weld().disableDiscovery().addExtension(new CourierExtension()).initialize();
    }

    @Test
    void brokers_are_closed_when_the_application_stops() {
        ClosingProvider.created.clear();
        try (TestConfig ignored = TestConfig.of(Map.of(
                "brokers.default.provider", "inline",
                "brokers.a.provider", "closing",
                "brokers.b.provider", "closing"))) {
            WeldContainer container = start();
            assertEquals(List.of("a", "b"), ClosingProvider.created.stream().map(Broker::name).toList());
            assertFalse(ClosingProvider.created.get(0).closed());
            container.shutdown();
            assertTrue(ClosingProvider.created.stream().allMatch(FixedBroker::closed), "every broker closed");
        }
    }

    @Test
    void brokers_are_configured_through_environment_variables_too() {
        try (TestConfig ignored = TestConfig.of(
                Map.of("brokers.default.provider", "inline", "brokers.default.max-retries", "1"),
                Map.of("BROKERS_DEFAULT_MAX_RETRIES", "9", "BROKERS_AUDIT_PROVIDER", "inline",
                        "BROKERS_AUDIT_ENABLE_DLQ", "false"));
             WeldContainer container = start()) {
            Brokers brokers = container.select(Brokers.class).get();
            assertEquals(List.of("default", "audit"), List.copyOf(brokers.names()));
            // The properties file (ordinal 500 here) wins over the environment (300), as MicroProfile Config says.
            assertEquals(1, brokers.defaultBroker().healthStats().details().get("max_retries"));
            assertEquals(false, brokers.get("audit").healthStats().details().get("enable_dlq"));
        }
    }

    @Test
    void proteans_capital_uri_key_is_accepted() {
        try (TestConfig ignored = TestConfig.of(Map.of(
                "brokers.default.provider", "inline",
                "brokers.default.URI", "redis://localhost:6379/0"));
             WeldContainer container = start()) {
            assertEquals("inline", container.select(Broker.class).get().provider());
        }
    }
}
