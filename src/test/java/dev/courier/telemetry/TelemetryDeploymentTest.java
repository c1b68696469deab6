package dev.courier.telemetry;

import dev.courier.Broker;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import io.opentelemetry.api.OpenTelemetry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Courier's CDI extension finds MicroProfile Telemetry's OpenTelemetry bean at deployment, where its SDK is on. */
class TelemetryDeploymentTest {

    static final OtelKit OTEL = new OtelKit();

    /** As MicroProfile Telemetry offers it. */
    @ApplicationScoped
    static class Telemetry {
        @Produces
        OpenTelemetry openTelemetry() {
            return OTEL.sdk;
        }
    }

    @ApplicationScoped
    static class Orders {
        void handle(@Subscribe(stream = "orders") Message order) {
        }
    }

    @AfterEach
    void reset() {
        OTEL.spans.reset();
    }

    @Test
    void a_deployment_traces_and_measures_through_the_opentelemetry_bean_when_the_sdk_is_enabled() {
        try (Deployment app = Deployment.of(Deployment.inline("otel.sdk.disabled", "false"), Telemetry.class,
                Orders.class)) {
            app.broker().publish("orders", Map.of("n", 1));
            await().until(() -> OTEL.spans("process orders").size() == 1);
            assertEquals(OTEL.span("send orders").getSpanId(), OTEL.span("process orders").getParentSpanId());
            assertEquals(1, OtelKit.value(OTEL.collect().get("courier.messages.handled"),
                    "messaging.consumer.group.name", Orders.class.getName()));
        }
    }

    @Test
    void a_deployment_leaves_opentelemetry_alone_while_its_sdk_is_disabled() {
        // otel.sdk.disabled is true unless set: MicroProfile Telemetry's default.
        try (Deployment app = Deployment.of(Deployment.inline(), Telemetry.class, Orders.class)) {
            Broker broker = app.broker();
            broker.publish("orders", Map.of("n", 1));
            await().until(() -> Inspect.loop(app.engine(), "orders", Orders.class.getName()).handled() == 1);
            assertTrue(OTEL.spans.getFinishedSpanItems().isEmpty(), "no span");
        }
    }
}
