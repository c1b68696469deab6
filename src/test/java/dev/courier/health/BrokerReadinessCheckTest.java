package dev.courier.health;

import dev.courier.Broker;
import dev.courier.cdi.CourierExtension;
import dev.courier.testing.TestConfig;
import io.smallrye.health.AsyncHealthCheckFactory;
import io.smallrye.health.SmallRyeHealth;
import io.smallrye.health.SmallRyeHealthReporter;
import io.smallrye.health.registry.HealthRegistries;
import jakarta.json.JsonObject;
import org.jboss.weld.environment.se.Weld;
import org.jboss.weld.environment.se.WeldContainer;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BrokerReadinessCheckTest {

    static WeldContainer start() {
        return new Weld().disableDiscovery()
                .addExtension(new CourierExtension())
                .addBeanClasses(SmallRyeHealthReporter.class, AsyncHealthCheckFactory.class, HealthRegistries.class)
                .initialize();
    }

    static JsonObject check(SmallRyeHealth health) {
        return health.getPayload().getJsonArray("checks").stream()
                .map(JsonObject.class::cast)
                .filter(c -> c.getString("name").equals(BrokerReadinessCheck.NAME))
                .findFirst().orElseThrow(() -> new AssertionError("no Courier check in " + health.getPayload()));
    }

    @Test
    void readiness_is_up_on_inline_with_provider_status_latency_and_counts_per_broker() {
        try (TestConfig ignored = TestConfig.of(Map.of(
                "brokers.default.provider", "inline",
                "brokers.audit.provider", "inline"));
             WeldContainer container = start()) {
            Broker broker = container.select(Broker.class).get();
            broker.publish("s", Map.of("type", "x"));
            broker.read("s", "g", 1);

            SmallRyeHealth readiness = container.select(SmallRyeHealthReporter.class).get().getReadiness();
            assertFalse(readiness.isDown(), readiness.getPayload().toString());
            JsonObject data = check(readiness).getJsonObject("data");
            assertEquals("inline", data.getString("default.provider"));
            assertEquals("healthy", data.getString("default.status"));
            assertTrue(data.getJsonNumber("default.ping_ms").longValue() >= 0);
            assertEquals(1, data.getJsonNumber("default.messages_total").longValue());
            assertEquals(1, data.getJsonNumber("default.in_flight").longValue());
            assertEquals("healthy", data.getString("audit.status"));
        }
    }

    @Test
    void readiness_is_down_and_names_the_broker_that_does_not_answer() {
        try (TestConfig ignored = TestConfig.of(Map.of(
                "brokers.default.provider", "inline",
                "brokers.remote.provider", "unreachable",
                "brokers.remote.uri", "redis://courier:hunter2@localhost:1/0"));
             WeldContainer container = start()) {
            SmallRyeHealth readiness = container.select(SmallRyeHealthReporter.class).get().getReadiness();
            assertTrue(readiness.isDown());
            JsonObject data = check(readiness).getJsonObject("data");
            assertEquals("unhealthy", data.getString("remote.status"));
            assertEquals("unreachable", data.getString("remote.error"));
            assertEquals("healthy", data.getString("default.status"));
            String json = readiness.getPayload().toString();
            assertFalse(json.contains("hunter2"), json);
            assertFalse(json.contains("courier:"), json);
        }
    }

    @Test
    void a_broker_that_hangs_makes_readiness_down_within_the_timeout_instead_of_hanging_it() {
        try (TestConfig ignored = TestConfig.of(Map.of(
                "brokers.default.provider", "unreachable",
                "brokers.default.uri", "redis://localhost:1",
                "brokers.default.hang", "true"));
             WeldContainer container = start()) {
            long start = System.nanoTime();
            SmallRyeHealth readiness = container.select(SmallRyeHealthReporter.class).get().getReadiness();
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(readiness.isDown());
            assertEquals("timeout after " + BrokerReadinessCheck.TIMEOUT_MILLIS + " ms",
                    check(readiness).getJsonObject("data").getString("default.error"));
            assertTrue(millis < BrokerReadinessCheck.TIMEOUT_MILLIS + 2_000, "took " + millis + " ms");
        }
    }
}
