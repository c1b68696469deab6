package dev.courier.redis;

import dev.courier.internal.CourierOptions;
import dev.courier.spi.BrokerSettings;

import java.util.Map;

/**
 * A broker's priority lanes, as Protean's {@code [server.priority_lanes]}: {@code priority-lanes},
 * {@code priority-lanes-threshold}, {@code backfill-suffix}. With lanes on, a message whose
 * {@code metadata.domain.priority} is below the threshold goes to {@code <stream>:<suffix>} (a partitioned one to
 * {@code <stream>:<key>:<suffix>}); consumers read that lane only when the stream itself gives nothing. Publishers
 * and consumers, Protean's and Courier's, must agree on all three, or a lane goes unread.
 *
 * @param enabled   whether lanes are written and read
 * @param threshold a priority below it goes to the lane
 * @param suffix    the lane's last name segment
 */
record LaneSettings(boolean enabled, int threshold, String suffix) {

    static final LaneSettings OFF = new LaneSettings(false, 0, PartitionKey.BACKFILL);

    static LaneSettings from(BrokerSettings settings) {
        boolean enabled = settings.getBoolean(CourierOptions.PRIORITY_LANES);
        int threshold = settings.getInt(CourierOptions.PRIORITY_LANES_THRESHOLD);
        String option = CourierOptions.BACKFILL_SUFFIX.name();
        String suffix = settings.get(option).orElse(CourierOptions.BACKFILL_SUFFIX.defaultValue()).trim();
        // Protean's names hold it as a segment: <stream>:<suffix>, <stream>:<key>:<suffix>, <stream>:<suffix>:dlq.
        String broken = suffix.isEmpty() ? "is empty"
                : suffix.indexOf(':') >= 0 ? "contains ':'"
                : suffix.equals(PartitionKey.DLQ) ? "is 'dlq', the dead letters' suffix"
                : suffix.length() >= 4 && suffix.startsWith("__") && suffix.endsWith("__")
                        ? "has the form __x__ that Courier keeps for its own keys"
                : suffix.chars().anyMatch(Character::isWhitespace) ? "contains white space" : null;
        if (broken != null) {
            throw settings.invalid(option, "'" + suffix + "' " + broken + "; give a name such as backfill");
        }
        return new LaneSettings(enabled, threshold, suffix);
    }

    /** The backfill lane of a stream (or of a partition stream {@code <stream>:<key>}). */
    String lane(String stream) {
        return stream + ":" + suffix;
    }

    /** Whether the stream is a backfill lane or a dead-letter stream itself: it has no lane of its own. */
    boolean hasNoLane(String stream) {
        return stream.endsWith(":" + suffix) || stream.endsWith(RedisBroker.DLQ_SUFFIX);
    }

    /** Whether lanes are on and the stream has a lane (it is not a lane or a dead-letter stream). */
    boolean laned(String stream) {
        return enabled && !hasNoLane(stream);
    }

    /**
     * Whether a message goes to the lane: its {@code metadata.domain.priority} (Protean's envelope) is below the
     * threshold; a message without one counts as NORMAL (0), as Protean's default.
     */
    boolean toLane(Map<String, ?> fields) {
        return priority(fields) < threshold;
    }

    /** {@code metadata.domain.priority}, 0 where there is none or it is not a number. */
    static double priority(Map<String, ?> fields) {
        if (fields != null && fields.get("metadata") instanceof Map<?, ?> metadata
                && metadata.get("domain") instanceof Map<?, ?> domain
                && domain.get("priority") instanceof Number priority && !(priority instanceof Double d && d.isNaN())) {
            return priority.doubleValue();
        }
        return 0;
    }
}
