package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.spi.BrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.MaintenancePolicy;
import dev.courier.spi.Retention;
import dev.courier.spi.RetryPolicy;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

/**
 * The {@code redis} provider: a broker on Redis Streams (Redis 5.0+, 6.2+ to reclaim the entries of crashed
 * consumers).
 *
 * <pre>
 * brokers.analytics.provider=redis
 * brokers.analytics.uri=redis://user:secret@localhost:6379/1     # rediss:// for TLS
 * </pre>
 *
 * <p>Options ({@code brokers.<name>.<option>}), besides {@code uri} and the retry options of {@link RetryPolicy}:
 * <table>
 * <caption>Options</caption>
 * <tr><th>option</th><th>default</th><th>meaning</th></tr>
 * <tr><td>{@code pool-size}</td><td>8</td><td>connections for commands (blocking reads have a pool of the same
 * size of their own)</td></tr>
 * <tr><td>{@code connect-timeout}</td><td>2 s</td><td>to open a connection</td></tr>
 * <tr><td>{@code socket-timeout}</td><td>2 s</td><td>to wait for a reply</td></tr>
 * <tr><td>{@code consumer-name}</td><td>{@code courier.consumer-name}, else host name + "-" + process id</td><td>this
 * instance's consumer name in every group; keep it stable per instance</td></tr>
 * <tr><td>{@code max-length}</td><td>0 (off)</td><td>trim each stream to about this many entries while publishing,
 * never removing entries a group still needs</td></tr>
 * <tr><td>{@code retention}</td><td>0 (off)</td><td>remove entries older than this that every group has
 * acknowledged (XTRIM MINID), in the maintenance task</td></tr>
 * <tr><td>{@code dead-letter-retention}, {@code dead-letter-alert-depth}, {@code maintenance-interval}</td><td>7 d,
 * off, 60 s</td><td>see {@link MaintenancePolicy}</td></tr>
 * <tr><td>{@code block-timeout}</td><td>1 s</td><td>the longest a blocking read waits on the server</td></tr>
 * <tr><td>{@code tls-truststore}</td><td>the JVM's</td><td>a truststore file with the certificates to trust for
 * {@code rediss://}</td></tr>
 * <tr><td>{@code tls-truststore-password}, {@code tls-truststore-type}</td><td>none, the file's</td><td>its password
 * and type (PKCS12, JKS)</td></tr>
 * <tr><td>{@code tls-verify}</td><td>full</td><td>{@code full} (certificate and host name), {@code ca} (certificate
 * only) or {@code none}</td></tr>
 * <tr><td>{@code max-message-size}</td><td>1 MiB</td><td>the most bytes a message's JSON may have: a larger one is
 * refused on publish, and an entry whose {@code data} is larger is dead-lettered unparsed (reason
 * {@code too_large})</td></tr>
 * </table>
 */
public final class RedisBrokerProvider implements BrokerProvider {

    public static final String NAME = "redis";

    static final String CONSUMER_NAME = "consumer-name";
    static final String MAX_LENGTH = "max-length";
    static final String BLOCK_TIMEOUT = "block-timeout";

    static final Duration DEFAULT_BLOCK_TIMEOUT = Duration.ofSeconds(1);
    /**
     * 1 MiB, as many brokers take by default. Redis itself takes up to 512 MB (proto-max-bulk-len), but a read of
     * {@code batch-size} such entries would hold gigabytes in the heap and keep the loop parsing for seconds.
     */
    static final long DEFAULT_MAX_MESSAGE_SIZE = 1 << 20;

    private static final Set<String> OPTIONS;

    static {
        Set<String> options = new HashSet<>(RetryPolicy.OPTIONS);
        options.addAll(RedisConnection.OPTIONS);
        options.addAll(Set.of(CONSUMER_NAME, MAX_LENGTH, BLOCK_TIMEOUT, BrokerSettings.MAX_MESSAGE_SIZE));
        options.addAll(Retention.OPTIONS);
        options.addAll(MaintenancePolicy.OPTIONS);
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
        RetryPolicy policy = RetryPolicy.from(settings);
        Duration block = settings.getDuration(BLOCK_TIMEOUT, DEFAULT_BLOCK_TIMEOUT);
        if (block.toMillis() < 1 || block.toSeconds() > 60) {
            throw settings.invalid(BLOCK_TIMEOUT, "'" + settings.get(BLOCK_TIMEOUT).orElse("")
                    + "' must be between 1 ms and 60 s");
        }
        // A broker's own consumer-name wins over the application's courier.consumer-name.
        String consumer = settings.get(CONSUMER_NAME).orElse(settings.consumerName());
        Retention retention = Retention.from(settings, 0);
        MaintenancePolicy maintenance = MaintenancePolicy.from(settings);
        long maxMessageSize = settings.getSize(BrokerSettings.MAX_MESSAGE_SIZE, DEFAULT_MAX_MESSAGE_SIZE);
        RedisConnection connection = new RedisConnection(RedisConnection.Config.from(settings), block);
        return new RedisBroker(brokerName, connection, policy, consumer, retention, maintenance, block,
                maxMessageSize);
    }
}
