package dev.courier.spi;

import dev.courier.internal.CourierOptions;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * What the maintenance task that Courier runs for a broker does, and how often: the options
 * {@code maintenance-interval}, {@code dead-letter-retention} (by default 7 days, as Protean's 168 hours) and
 * {@code dead-letter-alert-depth} (by default off), declared in {@code dev.courier.internal.CourierOptions}.
 *
 * <p>{@code dead-letter-alert-depth} is a depth for every stream, per-stream depths, or both:
 * {@code 100}, {@code orders=10, payments=5}, {@code 100, orders=10}. 0 turns the alert off.
 *
 * @param interval            how often the task runs
 * @param deadLetterRetention dead letters older than this are removed; {@link Duration#ZERO} keeps them for ever
 * @param alertDepth          the dead-letter depth at which a stream alerts, 0 for off
 * @param alertDepthByStream  depths for particular streams, overriding {@code alertDepth}
 */
public record MaintenancePolicy(Duration interval, Duration deadLetterRetention, long alertDepth,
                                Map<String, Long> alertDepthByStream) {

    public static final String INTERVAL = CourierOptions.MAINTENANCE_INTERVAL.name();
    public static final String DEAD_LETTER_RETENTION = CourierOptions.DEAD_LETTER_RETENTION.name();
    public static final String DEAD_LETTER_ALERT_DEPTH = CourierOptions.DEAD_LETTER_ALERT_DEPTH.name();

    /** The option names this policy reads. */
    public static final Set<String> OPTIONS = Set.of(INTERVAL, DEAD_LETTER_RETENTION, DEAD_LETTER_ALERT_DEPTH);

    /** The declared defaults. */
    public static final MaintenancePolicy DEFAULT = from(new BrokerSettings("default", "", Map.of(), ""));

    public MaintenancePolicy {
        alertDepthByStream = Collections.unmodifiableMap(new LinkedHashMap<>(alertDepthByStream));
    }

    /** The policy a broker's settings describe, defaults for what is unset. */
    public static MaintenancePolicy from(BrokerSettings settings) {
        Duration interval = settings.getDuration(CourierOptions.MAINTENANCE_INTERVAL);
        Duration retention = settings.getDuration(CourierOptions.DEAD_LETTER_RETENTION);
        long all = 0;
        Map<String, Long> byStream = new LinkedHashMap<>();
        for (String part : settings.get(CourierOptions.DEAD_LETTER_ALERT_DEPTH).orElse("").split(",")) {
            String item = part.trim();
            if (item.isEmpty()) {
                continue;
            }
            int eq = item.lastIndexOf('=');
            String stream = eq < 0 ? null : item.substring(0, eq).trim();
            long depth = depth(settings, eq < 0 ? item : item.substring(eq + 1).trim());
            if (stream == null) {
                all = depth;
            } else if (stream.isEmpty()) {
                throw settings.invalid(DEAD_LETTER_ALERT_DEPTH, "'" + item + "' names no stream; use stream=depth");
            } else {
                byStream.put(stream, depth);
            }
        }
        return new MaintenancePolicy(interval, retention, all, byStream);
    }

    private static long depth(BrokerSettings settings, String text) {
        try {
            long depth = Long.parseLong(text);
            if (depth >= 0) {
                return depth;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw settings.invalid(DEAD_LETTER_ALERT_DEPTH, "'" + text + "' is not a depth (a whole number of at least "
                + "0); use 100, orders=10 or both");
    }

    /** The dead-letter depth at which a stream alerts; 0 when it does not. */
    public long alertDepth(String stream) {
        return alertDepthByStream.getOrDefault(stream, alertDepth);
    }

    /** Whether dead letters are removed by age. */
    public boolean expiresDeadLetters() {
        return !deadLetterRetention.isZero();
    }
}
