package dev.courier.redis;

import dev.courier.internal.CourierOptions;
import dev.courier.spi.BrokerSettings;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A broker's partitioning options: {@code partition-key.<stream>} and its list form {@code partition-keys},
 * {@code partition-poison.<group>} and {@code partition-poisons}, {@code partition-lease-ttl},
 * {@code partition-reap-idle}. The list forms are for environment variables, whose names cannot carry a stream's or
 * a group's name; both forms may be used together, but a stream or group set twice must be set alike.
 *
 * @param keyFields  stream to key field
 * @param keyOptions stream to the option that set its key field, for errors
 * @param poisons    group to its poison policy, for the groups that set one
 */
record PartitionSettings(Map<String, String> keyFields, Map<String, String> keyOptions,
                         Map<String, PartitionedGroup.Poison> poisons, long leaseTtlMs, long reapIdleMs) {

    static PartitionSettings from(BrokerSettings settings) {
        String keyPrefix = prefix(CourierOptions.PARTITION_KEY.name());
        String poisonPrefix = prefix(CourierOptions.PARTITION_POISON.name());
        Setting<String> keys = new Setting<>(settings, "stream", "partitioned by field");
        Setting<PartitionedGroup.Poison> poisons = new Setting<>(settings, "group", "given poison policy");
        settings.options().forEach((option, value) -> {
            if (option.startsWith(keyPrefix)) {
                keys.put(option.substring(keyPrefix.length()), value.trim(), option);
            } else if (option.startsWith(poisonPrefix)) {
                poisons.put(option.substring(poisonPrefix.length()), poison(settings, option, value, ""), option);
            }
        });
        String keysOption = CourierOptions.PARTITION_KEYS.name();
        for (String[] item : items(settings, keysOption, "stream=field")) {
            keys.put(item[0], item[1], keysOption);
        }
        String poisonsOption = CourierOptions.PARTITION_POISONS.name();
        for (String[] item : items(settings, poisonsOption, "group=halt or group=dead-letter")) {
            poisons.put(item[0], poison(settings, poisonsOption, item[1], " (group '" + item[0] + "')"),
                    poisonsOption);
        }
        keys.setBy.forEach((stream, option) -> {
            if (stream.endsWith(PartitionedStreams.INDEX_SUFFIX) || stream.endsWith(RedisBroker.DLQ_SUFFIX)) {
                throw settings.invalid(option, "names a stream Courier keeps for its own ('" + stream + "')");
            }
        });
        long ttl = settings.getDuration(CourierOptions.PARTITION_LEASE_TTL).toMillis();
        long reapIdle = settings.getDuration(CourierOptions.PARTITION_REAP_IDLE).toMillis();
        return new PartitionSettings(Map.copyOf(keys.values), Map.copyOf(keys.setBy), Map.copyOf(poisons.values),
                ttl, reapIdle);
    }

    PartitionedGroup.Poison poison(String group) {
        return poisons.getOrDefault(group, PartitionedGroup.Poison.DEAD_LETTER);
    }

    /** The values set per stream or group, and by which option each, so that two that disagree are named. */
    private static final class Setting<V> {
        private final BrokerSettings settings;
        private final String what;
        private final String verb;
        final Map<String, V> values = new TreeMap<>();
        final Map<String, String> setBy = new HashMap<>();

        Setting(BrokerSettings settings, String what, String verb) {
            this.settings = settings;
            this.what = what;
            this.verb = verb;
        }

        void put(String name, V value, String option) {
            V before = values.putIfAbsent(name, value);
            String first = setBy.putIfAbsent(name, option);
            if (before != null && !before.equals(value)) {
                throw settings.invalid(option, what + " '" + name + "' is " + verb + " '" + shown(before) + "' in "
                        + settings.property(first) + " and '" + shown(value) + "' here; set it once");
            }
        }

        private static String shown(Object value) {
            return value instanceof PartitionedGroup.Poison p ? p.name().toLowerCase(Locale.ROOT).replace('_', '-')
                    : String.valueOf(value);
        }
    }

    /** The {@code name=value} items of a list option, comma-separated; an item without both parts is refused. */
    private static java.util.List<String[]> items(BrokerSettings settings, String option, String form) {
        java.util.List<String[]> items = new java.util.ArrayList<>();
        for (String part : settings.get(option).orElse("").split(",")) {
            String item = part.trim();
            if (item.isEmpty()) {
                continue;
            }
            int eq = item.lastIndexOf('=');
            String name = eq < 0 ? "" : item.substring(0, eq).trim();
            String value = eq < 0 ? "" : item.substring(eq + 1).trim();
            if (name.isEmpty() || value.isEmpty()) {
                throw settings.invalid(option, "'" + item + "' is not " + form + "; use " + form
                        + ", comma-separated");
            }
            items.add(new String[] {name, value});
        }
        return items;
    }

    private static String prefix(String name) {
        return name.substring(0, name.indexOf('<'));
    }

    private static PartitionedGroup.Poison poison(BrokerSettings settings, String option, String value,
                                                  String which) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "halt" -> PartitionedGroup.Poison.HALT;
            case "dead-letter" -> PartitionedGroup.Poison.DEAD_LETTER;
            default -> throw settings.invalid(option, "'" + value.trim() + "'" + which
                    + " is not a poison policy: halt or dead-letter");
        };
    }
}
