package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerContractTest;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.BeforeAll;

import java.util.HashMap;
import java.util.Map;

/** The broker contract, held against the Redis Streams broker on a real redis-server. */
@WithRedis
class RedisBrokerContractTest extends BrokerContractTest {

    private static RedisServer redis;

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @Override
    protected Broker newBroker(RetryPolicy policy) {
        return new RedisBrokerProvider().create("contract", settings(redis.uri(), policy, Map.of()));
    }

    /** The settings of a broker on {@code uri} with the policy's options and more. */
    static BrokerSettings settings(String uri, RetryPolicy policy, Map<String, String> more) {
        Map<String, String> options = new HashMap<>();
        options.put("uri", uri);
        options.put(RetryPolicy.MAX_RETRIES, Integer.toString(policy.maxRetries()));
        options.put(RetryPolicy.RETRY_DELAY, policy.retryDelay().toString());
        options.put(RetryPolicy.BACKOFF_MULTIPLIER, Double.toString(policy.backoffMultiplier()));
        options.put(RetryPolicy.MESSAGE_TIMEOUT, policy.messageTimeout().toString());
        options.put(RetryPolicy.ENABLE_DLQ, Boolean.toString(policy.deadLetterEnabled()));
        options.putAll(more);
        return new BrokerSettings("contract", RedisBrokerProvider.NAME, options);
    }
}
