package dev.courier.internal;

import org.eclipse.microprofile.config.Config;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The health checks' one setting, {@code courier.health.stuck-after}: how long a running consumption loop may go
 * without completing a read cycle before liveness reports it stuck. Five minutes by default, as the brokers' default
 * {@code message-timeout}: a handler busy for longer has its message given to another consumer anyway.
 */
public final class HealthSettings {

    public static final String PREFIX = "courier.";
    public static final String STUCK_AFTER = CourierOptions.HEALTH_STUCK_AFTER.name();
    public static final Duration DEFAULT_STUCK_AFTER = stuckAfter(Optional.empty());

    private HealthSettings() {
    }

    /**
     * The configured bound.
     *
     * @throws dev.courier.BrokerConfigurationException the value is not a duration of at least 1 ms; names the
     *                                                  property
     */
    public static Duration stuckAfter(Config config) {
        return stuckAfter(config.getOptionalValue(PREFIX + STUCK_AFTER, String.class));
    }

    /**
     * The bound a configured value gives.
     *
     * @param value the value of {@code courier.health.stuck-after}, if set
     * @throws dev.courier.BrokerConfigurationException the value is not a positive duration; names the property
     */
    public static Duration stuckAfter(Optional<String> value) {
        Map<String, String> values = new HashMap<>();
        value.ifPresent(v -> values.put(STUCK_AFTER, v));
        Options options = new Options(PREFIX, values);
        return options.getDuration(CourierOptions.HEALTH_STUCK_AFTER);
    }
}
