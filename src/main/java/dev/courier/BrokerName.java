package dev.courier;

import jakarta.enterprise.util.AnnotationLiteral;
import jakarta.enterprise.util.Nonbinding;
import jakarta.inject.Qualifier;

import java.lang.annotation.Documented;
import java.lang.annotation.Retention;
import java.lang.annotation.Target;

import static java.lang.annotation.ElementType.FIELD;
import static java.lang.annotation.ElementType.METHOD;
import static java.lang.annotation.ElementType.PARAMETER;
import static java.lang.annotation.ElementType.TYPE;
import static java.lang.annotation.RetentionPolicy.RUNTIME;

/**
 * Selects a configured broker by name. A name that is not configured ({@code brokers.<name>.provider}) fails the
 * deployment.
 *
 * <pre>{@code
 * @Inject @BrokerName("notifications") Broker notifications;
 * }</pre>
 */
@Qualifier
@Documented
@Retention(RUNTIME)
@Target({FIELD, PARAMETER, METHOD, TYPE})
public @interface BrokerName {

    /** The broker's name, as in {@code brokers.<name>.provider}. */
    @Nonbinding
    String value();

    /** An instance of the qualifier, for programmatic lookup: {@code instance.select(BrokerName.Literal.of("x"))}. */
    final class Literal extends AnnotationLiteral<BrokerName> implements BrokerName {

        private static final long serialVersionUID = 1L;

        private final String value;

        private Literal(String value) {
            this.value = value;
        }

        public static Literal of(String value) {
            return new Literal(value);
        }

        @Override
        public String value() {
            return value;
        }
    }
}
