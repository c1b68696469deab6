package dev.courier.internal;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The configuration Courier reads its settings from: MicroProfile Config inside a server (and in Java SE where an
 * implementation is present), or the Java SE runner's plain properties and environment variables. Not API.
 */
public interface ConfigValues {

    /** The sources, highest ordinal first. */
    List<Source> sources();

    /** The value of a property, looked up as MicroProfile Config does (environment variables included). */
    Optional<String> value(String property);

    /** Every property name the sources hold (environment variables too, in whatever form a source reports). */
    default Set<String> propertyNames() {
        Set<String> names = new LinkedHashSet<>();
        sources().forEach(source -> names.addAll(source.propertyNames()));
        return names;
    }

    /**
     * One source of configuration.
     *
     * @param name          its name, for messages ({@code EnvConfigSource}, say)
     * @param propertyNames the names it holds
     */
    record Source(String name, Set<String> propertyNames) {
    }
}
