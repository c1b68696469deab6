package dev.courier;

/**
 * The broker could not be reached, after the client's own reconnect and one retry, or it is not ready to serve (Redis
 * still loading its data after the socket timeout). Nothing was sent when {@link Broker#publish publish} throws it:
 * publishing again is safe. Compare {@link PublishOutcomeUnknownException}, where the message was sent.
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
