package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

/**
 * The {@code redis_pubsub} provider: simple queuing on Redis lists (Redis 2.6+), as Protean's broker of that name.
 * Despite the name it uses no Redis Pub/Sub: each stream is a list, and each consumer group reads it from its own
 * position. Delivery is at most once: there is no acknowledgement and no redelivery. Choose {@code redis} when a
 * message must survive a consumer's crash.
 *
 * <pre>
 * brokers.notifications.provider=redis_pubsub
 * brokers.notifications.uri=redis://localhost:6379/0
 * </pre>
 *
 * <p>Options, besides {@code uri}: the connection options of the {@code redis} provider ({@code pool-size},
 * {@code connect-timeout}, {@code socket-timeout}, {@code tls-*}), {@code max-length} (0, off: trim each list to
 * about this many items while publishing, never removing an item some group has not read) and
 * {@code max-message-size} (1 MiB, as on {@code redis}: a larger message is refused on publish, and a larger item
 * is skipped unparsed, counted with the malformed ones).
 */
public final class RedisPubSubBrokerProvider implements BrokerProvider {

    public static final String NAME = "redis_pubsub";

    static final String MAX_LENGTH = "max-length";
    static final long DEFAULT_MAX_MESSAGE_SIZE = RedisBrokerProvider.DEFAULT_MAX_MESSAGE_SIZE;

    private static final Set<String> OPTIONS;

    static {
        Set<String> options = new HashSet<>(RedisConnection.OPTIONS);
        options.add(MAX_LENGTH);
        options.add(BrokerSettings.MAX_MESSAGE_SIZE);
        OPTIONS = Set.copyOf(options);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<String> options() {
        return OPTIONS;
    }

    /** Checks the settings and builds the broker; it connects on first use. */
    @Override
    public Broker create(String brokerName, BrokerSettings settings) {
        long maxLength = settings.getInt(MAX_LENGTH, 0, 0);
        long maxMessageSize = settings.getSize(BrokerSettings.MAX_MESSAGE_SIZE, DEFAULT_MAX_MESSAGE_SIZE);
        // No blocking reads on lists: the connection's blocking pool is never used.
        RedisConnection connection = new RedisConnection(RedisConnection.Config.from(settings), Duration.ZERO);
        return new RedisListBroker(brokerName, connection, maxLength, maxMessageSize);
    }
}
