package dev.courier.spi;

import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;

/**
 * One option, declared once: its name, type, default, bounds and meaning. {@link BrokerSettings}'s getters that take
 * an option read it with this default and these bounds, so neither is written twice; Courier's own options are
 * listed in {@code dev.courier.internal.CourierOptions}, and a test checks that README's configuration tables show
 * each of them with its default. A custom provider may declare its options this way too (and return
 * {@link #names} from {@link BrokerProvider#options()}), or keep returning plain names.
 *
 * <pre>{@code
 * static final Option ENDPOINT = Option.text("endpoint", null, "the Acme service's URL").takenBy("acme");
 * static final Option WORKERS = Option.integer("workers", "4", "threads that call Acme").atLeast("1");
 * }</pre>
 *
 * @param name         the option's name: for a broker option the part after {@code brokers.<name>.}
 *                     ({@code max-retries}), for a setting of Courier's own the part after {@code courier.}
 *                     ({@code engine.batch-size})
 * @param kind         how its value is written
 * @param defaultValue the value when unset, written as a user would write it ({@code 1}, {@code P7D}, {@code 1MB});
 *                     {@code null} when there is none or it is computed (the description says how)
 * @param min          the least value allowed, written as the value is; {@code null} for none (durations and sizes
 *                     are never negative)
 * @param max          the greatest value allowed; {@code null} for none
 * @param providers    the providers that take it; empty for a setting of Courier's own
 * @param description  what it does, for documentation
 */
public record Option(String name, Kind kind, String defaultValue, String min, String max, Set<String> providers,
                     String description) {

    /** How an option's value is written. */
    public enum Kind {
        /** Any text (the description names the values a text option accepts). */
        TEXT,
        /** {@code true} or {@code false}, in any case. */
        BOOLEAN,
        /** A whole number. */
        INT,
        /** A decimal number. */
        DECIMAL,
        /** Plain seconds ({@code 5}, {@code 0.5}) or ISO-8601 ({@code PT5S}). */
        DURATION,
        /** Bytes ({@code 1048576}) or with a unit {@code B}, {@code KB}, {@code MB}, {@code GB}. */
        SIZE
    }

    public Option {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(description, "description");
        providers = Set.copyOf(new LinkedHashSet<>(providers));
    }

    public static Option text(String name, String defaultValue, String description) {
        return new Option(name, Kind.TEXT, defaultValue, null, null, Set.of(), description);
    }

    public static Option bool(String name, String defaultValue, String description) {
        return new Option(name, Kind.BOOLEAN, defaultValue, null, null, Set.of(), description);
    }

    public static Option integer(String name, String defaultValue, String description) {
        return new Option(name, Kind.INT, defaultValue, null, null, Set.of(), description);
    }

    public static Option decimal(String name, String defaultValue, String description) {
        return new Option(name, Kind.DECIMAL, defaultValue, null, null, Set.of(), description);
    }

    public static Option duration(String name, String defaultValue, String description) {
        return new Option(name, Kind.DURATION, defaultValue, null, null, Set.of(), description);
    }

    public static Option size(String name, String defaultValue, String description) {
        return new Option(name, Kind.SIZE, defaultValue, null, null, Set.of(), description);
    }

    /** This option with a least value. */
    public Option atLeast(String least) {
        return new Option(name, kind, defaultValue, least, max, providers, description);
    }

    /** This option with a greatest value. */
    public Option atMost(String most) {
        return new Option(name, kind, defaultValue, min, most, providers, description);
    }

    /** This option, taken by these providers. */
    public Option takenBy(String... names) {
        return new Option(name, kind, defaultValue, min, max, Set.of(names), description);
    }

    /** This option with another default (a provider whose default differs). */
    public Option withDefault(String value) {
        return new Option(name, kind, value, min, max, providers, description);
    }

    /** Whether a provider of this name takes this option. */
    public boolean isTakenBy(String provider) {
        return providers.contains(provider);
    }

    /** The names of these options, as {@link BrokerProvider#options()} returns them. */
    public static Set<String> names(Collection<Option> options) {
        Set<String> names = new LinkedHashSet<>();
        options.forEach(option -> names.add(option.name()));
        return Set.copyOf(names);
    }
}
