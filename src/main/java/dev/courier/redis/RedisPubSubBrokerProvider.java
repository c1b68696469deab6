package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.internal.CourierOptions;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.Option;

import java.time.Duration;
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
 * <p>Its options are those {@link CourierOptions} declares as taken by {@code redis_pubsub}: the connection options
 * of the {@code redis} provider, {@code max-length} (trim each list while publishing, never removing an item some
 * group has not read) and {@code max-message-size} (a larger item is skipped unparsed, counted with the malformed
 * ones). It runs on a Redis Cluster and on Sentinel as {@code redis} does; on a cluster a list is read and trimmed
 * only when its name has a hash tag ({@code {notifications}}), which keeps Protean's position keys in its slot.
 */
public final class RedisPubSubBrokerProvider implements BrokerProvider {

    public static final String NAME = "redis_pubsub";

    private static final Set<String> OPTIONS = Option.names(CourierOptions.of(NAME));

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
        long maxLength = settings.getInt(CourierOptions.MAX_LENGTH);
        long maxMessageSize = settings.getSize(CourierOptions.MAX_MESSAGE_SIZE);
        // No blocking reads on lists: the connection's blocking pool is never used.
        RedisConnection connection = new RedisConnection(RedisConnection.Config.from(settings), Duration.ZERO);
        return new RedisListBroker(brokerName, connection, maxLength, maxMessageSize);
    }
}
