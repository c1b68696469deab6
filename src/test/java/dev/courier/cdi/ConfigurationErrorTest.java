package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerName;
import dev.courier.testing.TestConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.weld.environment.se.Weld;
import org.jboss.weld.environment.se.WeldContainer;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Each configuration error fails the deployment with a message that names the property and the bad value. */
class ConfigurationErrorTest {

    /** Deploys with the given configuration and returns the deployment error's text. */
    static String deploymentError(Map<String, String> properties, Class<?>... beans) {
        return deploymentError(properties, Map.of(), beans);
    }

    /** The same, with environment variables too (a config source of lower ordinal). */
    static String deploymentError(Map<String, String> properties, Map<String, String> environment,
                                  Class<?>... beans) {
        try (TestConfig ignored = TestConfig.of(properties, environment)) {
            Weld weld = new Weld().disableDiscovery().addExtension(new CourierExtension()).addBeanClasses(beans);
            RuntimeException e = assertThrows(RuntimeException.class, () -> {
                try (WeldContainer container = weld.initialize()) {
                    fail("deployment succeeded");
                }
            });
            assertTrue(e.getClass().getSimpleName().contains("DeploymentException"), e.toString());
            return e.getMessage();
        }
    }

    static void assertContains(String text, String expected) {
        assertTrue(text.contains(expected), () -> "expected <" + expected + "> in:\n" + text);
    }

    static Map<String, String> valid(String... keysAndValues) {
        Map<String, String> properties = new HashMap<>(Map.of("brokers.default.provider", "inline"));
        for (int i = 0; i < keysAndValues.length; i += 2) {
            properties.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return properties;
    }

    @Test
    void a_missing_default_broker_fails_deployment() {
        String error = deploymentError(Map.of("brokers.other.provider", "inline"));
        assertContains(error, "brokers.default.provider: no default broker is configured");
        assertContains(error, "brokers.default.provider=inline");
    }

    @Test
    void an_unknown_provider_lists_the_available_ones() {
        String error = deploymentError(Map.of("brokers.default.provider", "kafka"));
        assertContains(error, "brokers.default.provider: unknown provider 'kafka'; available providers: [");
        assertContains(error, "inline");
    }

    @Test
    void a_negative_number_names_the_property_and_the_value() {
        assertContains(deploymentError(valid("brokers.default.max-retries", "-1")),
                "brokers.default.max-retries: '-1' is negative");
    }

    @Test
    void a_malformed_number_names_the_property_and_the_value() {
        assertContains(deploymentError(valid("brokers.default.max-retries", "lots")),
                "brokers.default.max-retries: 'lots' is not a whole number");
        assertContains(deploymentError(valid("brokers.default.backoff-multiplier", "double")),
                "brokers.default.backoff-multiplier: 'double' is not a number");
    }

    @Test
    void a_malformed_duration_names_the_property_and_the_value() {
        assertContains(deploymentError(valid("brokers.default.retry-delay", "5 seconds")),
                "brokers.default.retry-delay: '5 seconds' is not a duration; use seconds (5, 0.5) or ISO-8601 (PT5S)");
    }

    @Test
    void a_misspelt_option_is_reported_with_the_known_ones() {
        String error = deploymentError(valid("brokers.default.max-retires", "5"));
        assertContains(error, "brokers.default.max-retires: is not an option of provider 'inline'; its options are: "
                + "[backoff-multiplier, dead-letter-alert-depth, dead-letter-retention, enable-dlq, "
                + "maintenance-interval, max-length, max-message-size, max-retries, message-timeout, retention, "
                + "retry-delay, uri]");
    }

    @Test
    void a_misspelt_environment_variable_is_named_as_it_was_set_with_the_key_it_stands_for() {
        String error = deploymentError(Map.of(), Map.of(
                "BROKERS_DEFAULT_PROVIDER", "inline",
                "BROKERS_REDIS_PROVIDER", "inline",
                "BROKERS_REDIS_MAX_RETRYS", "5"));
        assertContains(error, "brokers.redis.max-retrys (set as environment variable BROKERS_REDIS_MAX_RETRYS): "
                + "is not an option of provider 'inline'; its options are: [backoff-multiplier, ");
        assertFalse(error.contains("brokers.redis.max.retrys"), error);
        assertFalse(error.contains("brokers.default"), "the default broker is fine:\n" + error);
    }

    @Test
    void an_option_of_a_broker_whose_name_extends_another_ones_is_not_taken_for_the_others() {
        String error = deploymentError(Map.of(), Map.of(
                "BROKERS_DEFAULT_PROVIDER", "inline",
                "BROKERS_DEFAULT_EXTRA_PROVIDER", "inline",
                "BROKERS_DEFAULT_EXTRA_MAX_RETRYS", "5"));
        assertContains(error, "brokers.default_extra.max-retrys (set as environment variable "
                + "BROKERS_DEFAULT_EXTRA_MAX_RETRYS): is not an option");
        assertFalse(error.contains("brokers.default.extra"), error);
    }

    @Test
    void an_unknown_option_does_not_hide_the_value_errors_of_the_same_broker() {
        String error = deploymentError(valid(
                "brokers.default.max-retrys", "5",
                "brokers.default.retry-delay", "soon"));
        assertContains(error, "brokers.default.max-retrys: is not an option of provider 'inline'");
        assertContains(error, "brokers.default.retry-delay: 'soon' is not a duration");
    }

    @Test
    void an_unknown_environment_variable_does_not_hide_the_value_errors_of_the_same_broker() {
        String error = deploymentError(Map.of(), Map.of(
                "BROKERS_DEFAULT_PROVIDER", "inline",
                "BROKERS_DEFAULT_MAX_RETRYS", "5",
                "BROKERS_DEFAULT_RETRY_DELAY", "soon"));
        assertContains(error, "brokers.default.max-retrys (set as environment variable BROKERS_DEFAULT_MAX_RETRYS)");
        assertContains(error, "brokers.default.retry-delay: 'soon' is not a duration");
    }

    @Test
    void an_injection_point_naming_an_unconfigured_broker_fails_deployment_and_lists_the_configured_ones() {
        String error = deploymentError(valid("brokers.notifications.provider", "inline"), NeedsAnalytics.class);
        assertContains(error, "@BrokerName(\"analytics\") at " + NeedsAnalytics.class.getName() + ".analytics");
        assertContains(error, "configured brokers: [default, notifications]");
    }

    @Test
    void every_problem_is_reported_at_once() {
        String error = deploymentError(Map.of(
                "brokers.default.provider", "inline",
                "brokers.default.enable-dlq", "maybe",
                "brokers.other.provider", "nope"));
        assertContains(error, "brokers.default.enable-dlq: 'maybe' is not true or false");
        assertContains(error, "brokers.other.provider: unknown provider 'nope'");
    }

    @Test
    void a_password_in_a_malformed_uri_never_appears_in_the_error() {
        String error = deploymentError(Map.of(
                "brokers.default.provider", "custom-uri",
                "brokers.default.uri", "redis://admin:hunter2@bad host:6379/0"), UriProvider.class);
        assertContains(error, "brokers.default.uri: 'redis://***@bad host:6379/0' is not a valid URI");
        assertFalse(error.contains("hunter2"), error);
    }

    @ApplicationScoped
    static class NeedsAnalytics {
        @Inject
        @BrokerName("analytics")
        Broker analytics;
    }

    /** A provider that parses its uri, as the Redis providers do. */
    @ApplicationScoped
    static class UriProvider implements dev.courier.spi.BrokerProvider {
        @Override
        public String name() {
            return "custom-uri";
        }

        @Override
        public Broker create(String brokerName, dev.courier.spi.BrokerSettings settings) {
            settings.uri("redis");
            throw new AssertionError("the uri should have been refused");
        }
    }
}
