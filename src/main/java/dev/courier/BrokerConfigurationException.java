package dev.courier;

/**
 * A broker's configuration is wrong. The message names the property at fault (such as
 * {@code brokers.default.max-retries}) and its value, never a password.
 */
public class BrokerConfigurationException extends BrokerException {

    private static final long serialVersionUID = 1L;

    private final String property;

    public BrokerConfigurationException(String property, String message) {
        super(property + ": " + message);
        this.property = property;
    }

    /** The configuration property at fault, such as {@code brokers.default.provider}. */
    public String property() {
        return property;
    }
}
