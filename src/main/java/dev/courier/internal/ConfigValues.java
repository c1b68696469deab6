package dev.courier.internal;

import java.util.Optional;

/**
 * The configuration Courier reads its settings from: MicroProfile Config inside a server (and in Java SE where an
 * implementation is present), or the Java SE runner's plain properties and environment variables. Not API.
 */
public interface ConfigValues {

    /** Every property name the configuration knows (environment variables too, in whatever form it reports). */
    Iterable<String> propertyNames();

    /** The value of a property, looked up as MicroProfile Config does (environment variables included). */
    Optional<String> value(String property);
}
