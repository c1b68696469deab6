package dev.courier.se;

import dev.courier.BrokerConfigurationException;
import dev.courier.BrokerConfigurationException.Code;
import dev.courier.Message;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Java SE runner reports deployment problems as Courier's CDI extension does: a list, and typed problems. */
class CourierRunnerProblemsTest {

    @Test
    void every_problem_is_listed_and_attached_with_its_code_and_property() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> CourierRunner.builder()
                .property("brokers.default.provider", "inline")
                .property("brokers.default.max-retries", "-1")
                .property("brokers.default.max-retrys", "5")
                .property(CourierRunner.HEALTH_PORT, "65536")
                .subscribe("elsewhere", "orders", "mailer", Message.class, message -> { })
                .build());
        List<BrokerConfigurationException> problems = Arrays.stream(e.getSuppressed())
                .map(BrokerConfigurationException.class::cast).toList();
        assertEquals(List.of(Code.INVALID_VALUE, Code.UNKNOWN_OPTION, Code.INVALID_VALUE),
                problems.stream().map(BrokerConfigurationException::code).toList(), e.getMessage());
        assertEquals(List.of("courier.se.health-port", "brokers.default.max-retrys", "brokers.default.max-retries"),
                problems.stream().map(BrokerConfigurationException::property).toList(), e.getMessage());
        assertTrue(e.getMessage().startsWith("Courier configuration is invalid:\n  - courier.se.health-port: '65536' "
                + "is too large; it must be at most 65535 [invalid-value]\n"), e.getMessage());
    }

    @Test
    void a_subscription_to_an_unknown_broker_is_named() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> CourierRunner.builder()
                .property("brokers.default.provider", "inline")
                .property(CourierRunner.HEALTH_PORT, "-1")
                .subscribe("elsewhere", "orders", "mailer", Message.class, message -> { })
                .build());
        BrokerConfigurationException problem = (BrokerConfigurationException) e.getSuppressed()[0];
        assertEquals(1, e.getSuppressed().length, e.getMessage());
        assertEquals(Code.UNKNOWN_BROKER, problem.code());
        assertEquals("mailer on orders (Message)", problem.property());
    }
}
