package dev.courier.se;

import dev.courier.Subscribe;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.ConfigProvider;
import redis.clients.jedis.RedisClient;

import java.net.URI;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The subscriber of {@link RunnerProcess}'s application: records each order's number in the Redis set
 * {@value #HANDLED}, taking a few milliseconds per order so that a stop lands in the middle of the stream.
 */
@ApplicationScoped
public class SlowOrders {

    static final String HANDLED = "test:handled";

    private RedisClient redis;

    @PostConstruct
    void connect() {
        redis = RedisClient.create(URI.create(ConfigProvider.getConfig().getValue("test.redis-uri", String.class)));
    }

    @PreDestroy
    void disconnect() {
        redis.close();
    }

    void handle(@Subscribe(stream = "orders") Order order) {
        // Work that takes time, as a real handler's would.
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        redis.sadd(HANDLED, Integer.toString(order.n()));
    }

    /** An order as published: {@code {"event_type": "order.placed", "n": 7}}. */
    public record Order(String event_type, int n) {
    }
}
