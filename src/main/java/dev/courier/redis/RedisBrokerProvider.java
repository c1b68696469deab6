package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.internal.CourierOptions;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.MaintenancePolicy;
import dev.courier.spi.Option;
import dev.courier.spi.Retention;
import dev.courier.spi.RetryPolicy;

import java.time.Duration;
import java.util.Set;

/**
 * The {@code redis} provider: a broker on Redis Streams (Redis 5.0+, 6.2+ to reclaim the entries of crashed
 * consumers).
 *
 * <pre>
 * brokers.analytics.provider=redis
 * brokers.analytics.uri=redis://user:secret@localhost:6379/1     # rediss:// for TLS
 * # a Redis Cluster (seed nodes), or a master found through Sentinels:
 * brokers.orders.uri=redis-cluster://user:secret@redis-1:6379,redis-2:6379,redis-3:6379
 * brokers.audit.uri=redis-sentinel://user:secret@sentinel-1:26379,sentinel-2:26379/0#mymaster
 * </pre>
 *
 * <p>Its options ({@code brokers.<name>.<option>}) are those {@link CourierOptions} declares as taken by
 * {@code redis}: the retry options of {@link RetryPolicy}, {@link Retention}, {@link MaintenancePolicy}, the
 * connection and TLS options, {@code consumer-name}, {@code block-timeout} and {@code max-message-size}. README's
 * Configuration reference lists them with their defaults.
 */
public final class RedisBrokerProvider implements BrokerProvider {

    public static final String NAME = "redis";

    /**
     * 1 MiB, as many brokers take by default. Redis itself takes up to 512 MB (proto-max-bulk-len), but a read of
     * {@code batch-size} such entries would hold gigabytes in the heap and keep the loop parsing for seconds.
     */
    static final long DEFAULT_MAX_MESSAGE_SIZE = new BrokerSettings(NAME, NAME, java.util.Map.of(), "")
            .getSize(CourierOptions.MAX_MESSAGE_SIZE);

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
        RetryPolicy policy = RetryPolicy.from(settings);
        Duration block = settings.getDuration(CourierOptions.BLOCK_TIMEOUT);
        // A broker's own consumer-name wins over the application's courier.consumer-name.
        String consumer = settings.get(CourierOptions.CONSUMER_NAME).orElse(settings.consumerName());
        Retention retention = Retention.from(settings, CourierOptions.MAX_LENGTH);
        MaintenancePolicy maintenance = MaintenancePolicy.from(settings);
        long maxMessageSize = settings.getSize(CourierOptions.MAX_MESSAGE_SIZE);
        RedisConnection connection = new RedisConnection(RedisConnection.Config.from(settings), block);
        PartitionSettings partitioning = PartitionSettings.from(settings);
        return new RedisBroker(brokerName, connection, policy, consumer, retention, maintenance, block,
                maxMessageSize, partitioning, LaneSettings.from(settings));
    }
}
