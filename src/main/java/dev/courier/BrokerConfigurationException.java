package dev.courier;

/**
 * A broker's configuration, or a subscriber's declaration, is wrong. The message names the property at fault (such
 * as {@code brokers.default.max-retries}) and its value, never a password. At deployment Courier collects every such
 * problem: the deployment error lists them in its message and carries each as a suppressed exception of this type,
 * with its {@link #code()} and {@link #property()}.
 */
public class BrokerConfigurationException extends BrokerException {

    private static final long serialVersionUID = 1L;

    /** What kind of problem it is. The ids are stable; README's Troubleshooting section lists what to do for each. */
    public enum Code {
        /** No {@code brokers.default.provider}: every application needs a default broker. */
        MISSING_DEFAULT_BROKER("missing-default-broker"),
        /** A broker's {@code provider} is not set or names no provider found. */
        UNKNOWN_PROVIDER("unknown-provider"),
        /** A property under {@code brokers.<name>.} or {@code courier.engine.}/{@code courier.subscribers.} that is
         * not an option. */
        UNKNOWN_OPTION("unknown-option"),
        /** An option's value is malformed, out of its bounds, or missing where it is required. */
        INVALID_VALUE("invalid-value"),
        /** A provider could not be loaded, two share a name, or one failed to build its broker. */
        PROVIDER_FAILED("provider-failed"),
        /** An injection point, subscriber or subscription names a broker that is not configured. */
        UNKNOWN_BROKER("unknown-broker"),
        /** A subscriber cannot be run as declared (its parameters, stream, broker's capabilities, settings). */
        INVALID_SUBSCRIBER("invalid-subscriber");

        private final String id;

        Code(String id) {
            this.id = id;
        }

        /** The stable id, such as {@code unknown-option}, as the deployment error shows it. */
        public String id() {
            return id;
        }

        @Override
        public String toString() {
            return id;
        }
    }

    private final Code code;
    private final String property;

    /** An invalid value of a property ({@link Code#INVALID_VALUE}). */
    public BrokerConfigurationException(String property, String message) {
        this(Code.INVALID_VALUE, property, message);
    }

    /**
     * @param property the property at fault, or for a subscriber the method at fault; {@code null} when the problem
     *                 names no single one (two subscribers that disagree), and the message alone says what it is
     */
    public BrokerConfigurationException(Code code, String property, String message) {
        super(property == null ? message : property + ": " + message);
        this.code = java.util.Objects.requireNonNull(code, "code");
        this.property = property;
    }

    /** What kind of problem it is. */
    public Code code() {
        return code;
    }

    /**
     * The configuration property at fault, such as {@code brokers.default.provider}; for a subscriber problem the
     * subscriber it is about; {@code null} when there is no single one.
     */
    public String property() {
        return property;
    }
}
