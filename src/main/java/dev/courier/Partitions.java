package dev.courier;

import java.util.List;

/**
 * The operator's view of partitioned streams (see {@link Broker#partitionBy}): the keys halted on a poison message
 * and what to do with each head. Implemented by brokers with {@link BrokerCapability#STREAM_PARTITIONING}
 * ({@code broker instanceof Partitions partitions}).
 *
 * <p>A halted key is owned, and acted on, by one instance, but these work from any instance of the broker: the owner
 * records its halts in Redis ({@code <group>:__halted__}), and carries out a resolution asked for elsewhere at its
 * next heartbeat (a fifth of the lease TTL).
 */
public interface Partitions {

    /**
     * A key that stopped on its head message under the {@code halt} poison policy.
     *
     * @param messageId the head's id, as the handler was given it
     * @param attempts  how often it was handled and failed
     */
    record HaltedKey(String category, String group, String key, String messageId, int attempts) {
    }

    /** The keys of the category halted for the group, in every instance. */
    List<HaltedKey> halted(String category, String group);

    /**
     * Acknowledges the halted head without handling it; the key goes on with its next message. Like the others: true
     * when done here or asked of the key's owner, false when the key is not halted.
     */
    boolean skip(String category, String group, String key);

    /** Moves the halted head to {@code <category>:<key>:dlq}; the key goes on with its next message. */
    boolean deadLetter(String category, String group, String key);

    /** Handles the halted head again, with its attempts counted from zero. */
    boolean retry(String category, String group, String key);
}
