package dev.courier.cdi;

import dev.courier.BrokerConfigurationException.Code;
import dev.courier.engine.EngineMode;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.engine.EngineStatus;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.Deployment;
import jakarta.enterprise.context.ApplicationScoped;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static dev.courier.cdi.ConfigurationErrorTest.assertContains;
import static dev.courier.cdi.ConfigurationErrorTest.deploymentFailure;
import static dev.courier.cdi.ConfigurationErrorTest.valid;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The courier.* settings: defaults, effects, and errors that name the property. */
class EngineSettingsTest {

    @ApplicationScoped
    static class Subscriber {
        void handle(@Subscribe(stream = "events") Message message) {
        }
    }

    @Test
    void a_disabled_engine_has_no_loops_and_consumes_nothing() {
        try (Deployment app = Deployment.of(Deployment.inline("courier.engine.enabled", "false"), Subscriber.class)) {
            app.broker().publish("events", Map.of("type", "x", "n", 1));
            EngineStatus status = app.engine().status();
            assertFalse(status.enabled());
            assertFalse(status.started());
            assertTrue(status.loops().isEmpty());
            assertTrue(status.healthy(), "nothing to run is not a failure");
            @SuppressWarnings("unchecked")
            Map<String, Object> events = (Map<String, Object>) ((Map<String, Object>) app.broker().info()
                    .get("streams")).get("events");
            assertEquals(Map.of(), events.get("groups"), "no group ever read the stream");
        }
    }

    @Test
    void defaults_and_the_consumer_name() {
        try (Deployment app = Deployment.of(Deployment.inline(), Subscriber.class)) {
            EngineStatus status = app.engine().status();
            assertEquals(EngineMode.ASYNC, status.mode());
            assertEquals(BrokerSettings.defaultConsumerName(), status.consumerName());
            assertTrue(status.consumerName().endsWith("-" + ProcessHandle.current().pid()), status.consumerName());
        }
        try (Deployment app = Deployment.of(Deployment.inline("courier.consumer-name", "worker-7"),
                Subscriber.class)) {
            assertEquals("worker-7", app.engine().status().consumerName());
        }
    }

    @Test
    void invalid_values_fail_deployment_naming_the_property() {
        ConfigurationErrorTest.Failure failure = deploymentFailure(valid(
                "courier.engine.enabled", "maybe",
                "courier.engine.mode", "parallel",
                "courier.engine.batch-size", "many",
                "courier.engine.block-timeout", "0",
                "courier.engine.shutdown-timeout", "-1",
                "courier.engine.batchsize", "5",
                "courier.subscribers.mailer.concurency", "2"));
        failure.assertProblem(Code.INVALID_VALUE, "courier.engine.enabled");
        assertContains(failure.assertProblem(Code.INVALID_VALUE, "courier.engine.mode"), "use async or sync");
        failure.assertProblem(Code.INVALID_VALUE, "courier.engine.batch-size");
        assertContains(failure.assertProblem(Code.INVALID_VALUE, "courier.engine.block-timeout"),
                "'0' is too short; it must be at least 1 ms (0.001)");
        failure.assertProblem(Code.INVALID_VALUE, "courier.engine.shutdown-timeout");
        failure.assertProblem(Code.UNKNOWN_OPTION, "courier.subscribers.mailer.concurency");
        assertContains(failure.assertProblem(Code.UNKNOWN_OPTION, "courier.engine.batchsize"), "the settings are "
                + "[courier.engine.enabled, courier.engine.mode, courier.engine.batch-size, courier.engine.block-timeout, "
                + "courier.engine.shutdown-timeout, courier.consumer-name, courier.engine.concurrency]");
    }

    @Test
    void parsing_shares_the_broker_settings_rules() {
        EngineSettings settings = EngineSettings.from(Map.of(
                "engine.batch-size", "25", "engine.block-timeout", "PT0.5S", "engine.shutdown-timeout", "2.5",
                "engine.mode", "SYNC"), e -> {
                    throw e;
                });
        assertEquals(25, settings.batchSize());
        assertEquals(java.time.Duration.ofMillis(500), settings.blockTimeout());
        assertEquals(java.time.Duration.ofMillis(2500), settings.shutdownTimeout());
        assertEquals(EngineMode.SYNC, settings.mode());
        assertEquals(EngineSettings.defaults().batchSize(),
                EngineSettings.from(Map.of(), e -> { throw e; }).batchSize());
    }
}
