package dev.courier.spi;

import dev.courier.BrokerConfigurationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BrokerSettingsTest {

    static BrokerSettings settings(String option, String value) {
        return new BrokerSettings("orders", "redis", Map.of(option, value));
    }

    @ParameterizedTest
    @CsvSource({"PT1S, 1000", "PT0.5S, 500", "PT2M, 120000", "1, 1000", "0.25, 250", "300, 300000", "0, 0"})
    void durations_are_iso_8601_or_plain_seconds(String text, long millis) {
        assertEquals(Duration.ofMillis(millis), settings("retry-delay", text).getDuration("retry-delay", null));
    }

    @ParameterizedTest
    @CsvSource({"1s", "PT", "abc", "'1,5'", "P1X", "NaN", "0x10", "1e3"})
    void a_malformed_duration_names_the_property_and_the_value(String text) {
        BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class,
                () -> settings("retry-delay", text).getDuration("retry-delay", null));
        assertEquals("brokers.orders.retry-delay", e.property());
        assertTrue(e.getMessage().startsWith("brokers.orders.retry-delay: '" + text + "' is not a duration"),
                e.getMessage());
    }

    @Test
    void a_negative_duration_is_refused() {
        BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class,
                () -> settings("message-timeout", "-5").getDuration("message-timeout", null));
        assertEquals("brokers.orders.message-timeout: '-5' is negative", e.getMessage());
    }

    @Test
    void numbers_must_be_whole_and_not_negative() {
        assertEquals(7, settings("max-retries", "7").getInt("max-retries", 3));
        assertEquals(3, new BrokerSettings("orders", "redis", Map.of()).getInt("max-retries", 3));
        assertEquals("brokers.orders.max-retries: '-1' is negative; it must be at least 0",
                assertThrows(BrokerConfigurationException.class,
                        () -> settings("max-retries", "-1").getInt("max-retries", 3)).getMessage());
        assertEquals("brokers.orders.max-retries: 'three' is not a whole number",
                assertThrows(BrokerConfigurationException.class,
                        () -> settings("max-retries", "three").getInt("max-retries", 3)).getMessage());
        assertEquals("brokers.orders.backoff-multiplier: 'x2' is not a number",
                assertThrows(BrokerConfigurationException.class,
                        () -> settings("backoff-multiplier", "x2").getDouble("backoff-multiplier", 2, 1))
                        .getMessage());
    }

    @Test
    void booleans_are_true_or_false() {
        assertFalse(settings("enable-dlq", "FALSE").getBoolean("enable-dlq", true));
        assertEquals("brokers.orders.enable-dlq: 'yes' is not true or false",
                assertThrows(BrokerConfigurationException.class,
                        () -> settings("enable-dlq", "yes").getBoolean("enable-dlq", true)).getMessage());
    }

    @Test
    void a_malformed_uri_names_the_property_and_masks_the_password() {
        BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class,
                () -> settings("uri", "redis://admin:s3cret@local host:6379").uri("redis", "rediss"));
        assertEquals("brokers.orders.uri", e.property());
        assertTrue(e.getMessage().contains("redis://***@local host:6379"), e.getMessage());
        assertFalse(e.getMessage().contains("s3cret"), e.getMessage());
    }

    @Test
    void a_uri_of_another_scheme_is_refused() {
        BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class,
                () -> settings("uri", "http://user:s3cret@localhost").uri("redis", "rediss"));
        assertFalse(e.getMessage().contains("s3cret"), e.getMessage());
        assertTrue(e.getMessage().contains("accepts redis, rediss"), e.getMessage());
    }

    @Test
    void retry_policy_defaults_are_proteans() {
        RetryPolicy policy = RetryPolicy.from(new BrokerSettings("b", "inline", Map.of()));
        assertEquals(new RetryPolicy(3, Duration.ofSeconds(1), 2.0, Duration.ofSeconds(300), true), policy);
    }

    @Test
    void a_backoff_multiplier_below_one_is_refused() {
        BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class,
                () -> RetryPolicy.from(settings("backoff-multiplier", "0.5")));
        assertEquals("brokers.orders.backoff-multiplier", e.property());
    }

    @ParameterizedTest
    @CsvSource({"1048576, 1048576", "1, 1", "512kb, 524288", "1MB, 1048576", "1 MB, 1048576", "2gb, 2147483648",
            "100B, 100"})
    void sizes_are_bytes_or_1024_based_units(String text, long bytes) {
        assertEquals(bytes, settings("max-message-size", text).getSize("max-message-size", 7));
        assertEquals(7, new BrokerSettings("orders", "redis", Map.of()).getSize("max-message-size", 7));
    }

    @ParameterizedTest
    @CsvSource({"1 MiB, is not a size", "-1, is not a size", "1.5MB, is not a size", "ten, is not a size",
            "0, is too small; it must be at least 1 bytes", "9999999999999GB, is out of range"})
    void a_bad_size_names_the_property_and_the_value(String text, String problem) {
        BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class,
                () -> settings("max-message-size", text).getSize("max-message-size", 7));
        assertEquals("brokers.orders.max-message-size", e.property());
        assertTrue(e.getMessage().startsWith("brokers.orders.max-message-size: '" + text + "' " + problem),
                e.getMessage());
    }
}
