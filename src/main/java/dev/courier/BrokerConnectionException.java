package dev.courier;

/**
 * The broker could not be reached, after the client's own reconnect and one retry. Nothing was sent when
 * {@link Broker#publish publish} throws it.
 */
public class BrokerConnectionException extends BrokerException {

    private static final long serialVersionUID = 1L;

    public BrokerConnectionException(String message) {
        super(message);
    }

    public BrokerConnectionException(String message, Throwable cause) {
        super(message, cause);
    }
}
