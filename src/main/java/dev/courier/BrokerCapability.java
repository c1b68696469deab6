package dev.courier;

/**
 * One thing a broker can do. A broker declares only the capabilities it really delivers; what it lacks, it does not
 * pretend to do: reads give nothing and ack/nack give {@code false}, with a warning logged (see {@link Broker}).
 */
public enum BrokerCapability {
    /** Messages can be published to a stream. */
    PUBLISH,
    /** Messages can be read from a stream. */
    SUBSCRIBE,
    /** Each consumer group gets every message once; consumers within a group share the work. */
    CONSUMER_GROUPS,
    /** Messages are acknowledged or rejected; a rejected message comes back. */
    ACK_NACK,
    /** A message read but never acknowledged is delivered again (at least once). */
    DELIVERY_GUARANTEES,
    /** A group receives the messages of a stream in the order they were published. */
    MESSAGE_ORDERING,
    /** A read can wait on the server for new messages instead of polling. */
    BLOCKING_READ,
    /** Messages that keep failing are moved to a dead-letter queue that can be inspected and replayed. */
    DEAD_LETTER_QUEUE,
    /** A group can read a stream's history again from an earlier position. */
    REPLAY,
    /** A stream is split into partitions consumed in parallel. */
    STREAM_PARTITIONING
}
