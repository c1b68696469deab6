package dev.courier;

/**
 * A publish reached the broker, but whether the broker stored the message is unknown: the broker did not answer
 * within its timeout, or the connection was lost after the message was sent. The message may have been stored (and
 * will then be delivered), or not.
 *
 * <p>This is deliberately not a {@link BrokerConnectionException}, which means the message was not sent and may be
 * published again. Publishing again after this exception may store the message twice: retry only where consumers
 * tolerate the duplicate (delivery is at least once anyway), or first look for the message by a key of your own.
 * Courier does not retry after it either.
 */
public class PublishOutcomeUnknownException extends BrokerException {

    private static final long serialVersionUID = 1L;

    public PublishOutcomeUnknownException(String message, Throwable cause) {
        super(message, cause);
    }
}
