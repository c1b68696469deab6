package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerConfigurationException;
import dev.courier.BrokerConfigurationException.Code;
import dev.courier.BrokerName;
import dev.courier.testing.TestConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.weld.environment.se.Weld;
import org.jboss.weld.environment.se.WeldContainer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Each configuration error fails the deployment with a problem of its own, typed: its code and the property it
 * names, attached to the deployment error, whose message lists them all.
 */
class ConfigurationErrorTest {

    /** What a failed deployment reports: its message and the problems attached to it. */
    record Failure(String message, List<BrokerConfigurationException> problems) {

        /** The one problem about this property. */
        BrokerConfigurationException about(String property) {
            List<BrokerConfigurationException> found = problems.stream()
                    .filter(p -> property.equals(p.property())).toList();
            assertEquals(1, found.size(), () -> "one problem about " + property + " in:\n" + message);
            return found.get(0);
        }

        /** The one problem about this property, of this code; returns its message. */
        String assertProblem(Code code, String property) {
            BrokerConfigurationException problem = about(property);
            assertEquals(code, problem.code(), () -> problem.getMessage());
            assertTrue(message.contains(problem.getMessage() + " [" + code.id() + "]"),
                    () -> "listed with its code in:\n" + message);
            return problem.getMessage();
        }
    }

    /** Deploys with the given configuration and returns the deployment error's problems. */
    static Failure deploymentFailure(Map<String, String> properties, Class<?>... beans) {
        return deploymentFailure(properties, Map.of(), beans);
    }

    /** The same, with environment variables too (a config source of lower ordinal). */
    static Failure deploymentFailure(Map<String, String> properties, Map<String, String> environment,
                                     Class<?>... beans) {
        try (TestConfig ignored = TestConfig.of(properties, environment)) {
            Weld weld = new Weld().disableDiscovery().addExtension(new CourierExtension()).addBeanClasses(beans);
            RuntimeException e = assertThrows(RuntimeException.class, () -> {
                try (WeldContainer container = weld.initialize()) {
                    fail("deployment succeeded");
                }
            });
            assertTrue(e.getClass().getSimpleName().contains("DeploymentException"), e.toString());
            List<BrokerConfigurationException> problems = new ArrayList<>();
            for (Throwable t = e; t != null && problems.isEmpty(); t = t.getCause()) {
                for (Throwable suppressed : t.getSuppressed()) {
                    if (suppressed instanceof BrokerConfigurationException problem) {
                        problems.add(problem);
                    }
                }
            }
            return new Failure(e.getMessage(), problems);
        }
    }

    /** Deploys with the given configuration and returns the deployment error's text. */
    static String deploymentError(Map<String, String> properties, Class<?>... beans) {
        return deploymentFailure(properties, beans).message();
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
    void the_deployment_error_lists_every_problem_with_its_code_in_its_message() {
        String error = deploymentError(valid("brokers.default.max-retries", "-1", "brokers.default.max-retires", "5"));
        assertTrue(error.startsWith("Courier configuration is invalid:\n  - "), error);
        assertContains(error, "\n  - brokers.default.max-retries: '-1' is negative; it must be at least 0 "
                + "[invalid-value]");
        assertContains(error, "\n  - brokers.default.max-retires: is not an option of provider 'inline'; its options "
                + "are: [backoff-multiplier, dead-letter-alert-depth, dead-letter-retention, enable-dlq, "
                + "maintenance-interval, max-length, max-message-size, max-retries, message-timeout, retention, "
                + "retry-delay, uri] [unknown-option]");
    }

    @Test
    void a_missing_default_broker_fails_deployment() {
        Failure failure = deploymentFailure(Map.of("brokers.other.provider", "inline"));
        assertContains(failure.assertProblem(Code.MISSING_DEFAULT_BROKER, "brokers.default.provider"),
                "brokers.default.provider=inline");
    }

    @Test
    void an_unknown_provider_lists_the_available_ones() {
        Failure failure = deploymentFailure(Map.of("brokers.default.provider", "kafka"));
        assertContains(failure.assertProblem(Code.UNKNOWN_PROVIDER, "brokers.default.provider"),
                "unknown provider 'kafka'; available providers: [");
    }

    @Test
    void a_negative_number_names_the_property() {
        deploymentFailure(valid("brokers.default.max-retries", "-1"))
                .assertProblem(Code.INVALID_VALUE, "brokers.default.max-retries");
    }

    @Test
    void a_malformed_number_names_the_property() {
        deploymentFailure(valid("brokers.default.max-retries", "lots"))
                .assertProblem(Code.INVALID_VALUE, "brokers.default.max-retries");
        deploymentFailure(valid("brokers.default.backoff-multiplier", "double"))
                .assertProblem(Code.INVALID_VALUE, "brokers.default.backoff-multiplier");
    }

    @Test
    void a_bad_priority_lane_setting_names_the_property() {
        Map<String, String> redis = Map.of("brokers.default.provider", "redis", "brokers.default.uri",
                "redis://localhost:1");
        Map<String, String> suffix = new HashMap<>(redis);
        suffix.put("brokers.default.backfill-suffix", "back:fill");
        assertContains(deploymentFailure(suffix).assertProblem(Code.INVALID_VALUE, "brokers.default.backfill-suffix"),
                "'back:fill' contains ':'");
        Map<String, String> threshold = new HashMap<>(redis);
        threshold.put("brokers.default.priority-lanes-threshold", "LOW");
        deploymentFailure(threshold).assertProblem(Code.INVALID_VALUE, "brokers.default.priority-lanes-threshold");
        Map<String, String> enabled = new HashMap<>(redis);
        enabled.put("brokers.default.priority-lanes", "yes please");
        deploymentFailure(enabled).assertProblem(Code.INVALID_VALUE, "brokers.default.priority-lanes");
    }

    @Test
    void a_malformed_duration_names_the_property() {
        deploymentFailure(valid("brokers.default.retry-delay", "5 seconds"))
                .assertProblem(Code.INVALID_VALUE, "brokers.default.retry-delay");
    }

    @Test
    void each_misspelt_option_is_a_problem_of_its_own() {
        Failure failure = deploymentFailure(valid("brokers.default.max-retires", "5", "brokers.default.retry-dlay",
                "1"));
        failure.assertProblem(Code.UNKNOWN_OPTION, "brokers.default.max-retires");
        failure.assertProblem(Code.UNKNOWN_OPTION, "brokers.default.retry-dlay");
        assertEquals(2, failure.problems().size(), failure.message());
    }

    @Test
    void a_misspelt_environment_variable_names_the_key_it_stands_for_and_how_it_was_set() {
        Failure failure = deploymentFailure(Map.of(), Map.of(
                "BROKERS_DEFAULT_PROVIDER", "inline",
                "BROKERS_REDIS_PROVIDER", "inline",
                "BROKERS_REDIS_MAX_RETRYS", "5"));
        assertContains(failure.assertProblem(Code.UNKNOWN_OPTION, "brokers.redis.max-retrys"),
                "(set as environment variable BROKERS_REDIS_MAX_RETRYS)");
        assertEquals(1, failure.problems().size(), "the default broker is fine:\n" + failure.message());
    }

    @Test
    void an_option_of_a_broker_whose_name_extends_another_ones_is_not_taken_for_the_others() {
        Failure failure = deploymentFailure(Map.of(), Map.of(
                "BROKERS_DEFAULT_PROVIDER", "inline",
                "BROKERS_DEFAULT_EXTRA_PROVIDER", "inline",
                "BROKERS_DEFAULT_EXTRA_MAX_RETRYS", "5"));
        failure.assertProblem(Code.UNKNOWN_OPTION, "brokers.default_extra.max-retrys");
        assertEquals(1, failure.problems().size(), failure.message());
    }

    @Test
    void an_unknown_option_does_not_hide_the_value_errors_of_the_same_broker() {
        Failure failure = deploymentFailure(valid(
                "brokers.default.max-retrys", "5",
                "brokers.default.retry-delay", "soon"));
        failure.assertProblem(Code.UNKNOWN_OPTION, "brokers.default.max-retrys");
        failure.assertProblem(Code.INVALID_VALUE, "brokers.default.retry-delay");
    }

    @Test
    void an_unknown_environment_variable_does_not_hide_the_value_errors_of_the_same_broker() {
        Failure failure = deploymentFailure(Map.of(), Map.of(
                "BROKERS_DEFAULT_PROVIDER", "inline",
                "BROKERS_DEFAULT_MAX_RETRYS", "5",
                "BROKERS_DEFAULT_RETRY_DELAY", "soon"));
        failure.assertProblem(Code.UNKNOWN_OPTION, "brokers.default.max-retrys");
        failure.assertProblem(Code.INVALID_VALUE, "brokers.default.retry-delay");
    }

    @Test
    void an_injection_point_naming_an_unconfigured_broker_fails_deployment_and_lists_the_configured_ones() {
        Failure failure = deploymentFailure(valid("brokers.notifications.provider", "inline"), NeedsAnalytics.class);
        assertContains(failure.assertProblem(Code.UNKNOWN_BROKER, "@BrokerName(\"analytics\") at "
                + NeedsAnalytics.class.getName() + ".analytics"), "configured brokers: [default, notifications]");
    }

    @Test
    void every_problem_is_reported_at_once() {
        Failure failure = deploymentFailure(Map.of(
                "brokers.default.provider", "inline",
                "brokers.default.enable-dlq", "maybe",
                "brokers.other.provider", "nope"));
        failure.assertProblem(Code.INVALID_VALUE, "brokers.default.enable-dlq");
        failure.assertProblem(Code.UNKNOWN_PROVIDER, "brokers.other.provider");
        assertEquals(2, failure.problems().size(), failure.message());
    }

    @Test
    void a_provider_that_fails_to_create_its_broker_is_named() {
        Failure failure = deploymentFailure(Map.of("brokers.default.provider", "failing"), FailingProvider.class);
        assertContains(failure.assertProblem(Code.PROVIDER_FAILED, "brokers.default.provider"),
                "provider 'failing' failed to create the broker: java.lang.IllegalStateException: no Acme today");
    }

    @Test
    void a_password_in_a_malformed_uri_never_appears_in_the_error() {
        Failure failure = deploymentFailure(Map.of(
                "brokers.default.provider", "custom-uri",
                "brokers.default.uri", "redis://admin:hunter2@bad host:6379/0"), UriProvider.class);
        assertContains(failure.assertProblem(Code.INVALID_VALUE, "brokers.default.uri"),
                "'redis://***@bad host:6379/0' is not a valid URI");
        assertFalse(failure.message().contains("hunter2"), failure.message());
    }

    /** A provider that throws what is not a configuration problem. */
    @ApplicationScoped
    static class FailingProvider implements dev.courier.spi.BrokerProvider {
        @Override
        public String name() {
            return "failing";
        }

        @Override
        public Broker create(String brokerName, dev.courier.spi.BrokerSettings settings) {
            throw new IllegalStateException("no Acme today");
        }
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
