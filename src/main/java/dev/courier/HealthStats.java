package dev.courier;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * A broker's health, as {@link Broker#healthStats()} reports it. Never carries a password or a URI with credentials.
 *
 * @param status        healthy, degraded or unhealthy
 * @param connected     whether the broker could be reached at the last check
 * @param lastPing      when the broker was last pinged successfully, or {@code null} if never
 * @param uptime        how long the broker object has existed
 * @param messageCounts message counts since the broker was created
 * @param details       provider-specific facts (settings, server version, per-stream figures); values are strings,
 *                      numbers, booleans, lists or maps
 */
public record HealthStats(Status status, boolean connected, Instant lastPing, Duration uptime,
                          MessageCounts messageCounts, Map<String, Object> details) {

    public HealthStats {
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(uptime, "uptime");
        Objects.requireNonNull(messageCounts, "messageCounts");
        details = details == null ? Map.of() : Map.copyOf(details);
    }

    /** Whether the status is {@link Status#HEALTHY}. */
    public boolean healthy() {
        return status == Status.HEALTHY;
    }

    public enum Status {
        HEALTHY, DEGRADED, UNHEALTHY;

        /** The lower-case name used in health data: {@code healthy}, {@code degraded}, {@code unhealthy}. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * @param total        messages published through this broker object
     * @param inFlight     messages delivered and not yet acknowledged or rejected
     * @param failed       rejections (nacks and timeouts)
     * @param deadLettered messages moved to a dead-letter queue
     */
    public record MessageCounts(long total, long inFlight, long failed, long deadLettered) {
    }
}
