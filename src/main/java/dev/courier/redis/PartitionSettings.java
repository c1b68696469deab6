package dev.courier.redis;

import dev.courier.internal.CourierOptions;
import dev.courier.spi.BrokerSettings;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A broker's partitioning options: {@code partition-key.<stream>}, {@code partition-poison.<group>} and
 * {@code partition-lease-ttl}, {@code partition-reap-idle}.
 *
 * @param keyFields stream to key field
 * @param poisons   group to its poison policy, for the groups that set one
 */
record PartitionSettings(Map<String, String> keyFields, Map<String, PartitionedGroup.Poison> poisons,
                         long leaseTtlMs, long reapIdleMs) {

    static PartitionSettings from(BrokerSettings settings) {
        String keyPrefix = prefix(CourierOptions.PARTITION_KEY.name());
        String poisonPrefix = prefix(CourierOptions.PARTITION_POISON.name());
        Map<String, String> keyFields = new TreeMap<>();
        Map<String, PartitionedGroup.Poison> poisons = new TreeMap<>();
        settings.options().forEach((option, value) -> {
            if (option.startsWith(keyPrefix)) {
                String stream = option.substring(keyPrefix.length());
                if (stream.endsWith(PartitionedStreams.INDEX_SUFFIX) || stream.endsWith(RedisBroker.DLQ_SUFFIX)) {
                    throw settings.invalid(option, "names a stream Courier keeps for its own ('" + stream + "')");
                }
                keyFields.put(stream, value.trim());
            } else if (option.startsWith(poisonPrefix)) {
                poisons.put(option.substring(poisonPrefix.length()), poison(settings, option, value));
            }
        });
        long ttl = settings.getDuration(CourierOptions.PARTITION_LEASE_TTL).toMillis();
        long reapIdle = settings.getDuration(CourierOptions.PARTITION_REAP_IDLE).toMillis();
        return new PartitionSettings(Map.copyOf(keyFields), Map.copyOf(poisons), ttl, reapIdle);
    }

    PartitionedGroup.Poison poison(String group) {
        return poisons.getOrDefault(group, PartitionedGroup.Poison.DEAD_LETTER);
    }

    private static String prefix(String name) {
        return name.substring(0, name.indexOf('<'));
    }

    private static PartitionedGroup.Poison poison(BrokerSettings settings, String option, String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "halt" -> PartitionedGroup.Poison.HALT;
            case "dead-letter" -> PartitionedGroup.Poison.DEAD_LETTER;
            default -> throw settings.invalid(option, "'" + value + "' is not a poison policy: halt or dead-letter");
        };
    }
}
