package dev.courier.cdi;

import dev.courier.Message;
import dev.courier.Subscribe;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.ConfigProvider;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.RedisClient;

import java.net.URI;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A subscriber whose handling is recorded in Redis, so that engines in several JVMs can be counted together: each
 * message it handles adds one to {@code handled[id]} and adds the id to {@code handled-by:<consumer name>}. Reads
 * {@code test.redis-uri} and {@code courier.consumer-name} from MicroProfile Config.
 *
 * <p>In {@link EngineProcess}, once {@link #HANG} is set, the next handler call records its message, prints
 * {@code HANGING <id>} and never returns: it is killed in the middle of handling.
 */
@ApplicationScoped
class RecordingOrders {

    static final String STREAM = "orders";
    static final String HANDLED = "handled";
    static final String HANDLED_BY = "handled-by:";

    static final AtomicBoolean HANG = new AtomicBoolean();

    private RedisClient redis;
    private String consumer;

    @PostConstruct
    void connect() {
        redis = RedisClient.create(URI.create(ConfigProvider.getConfig().getValue("test.redis-uri", String.class)));
        consumer = ConfigProvider.getConfig().getValue("courier.consumer-name", String.class);
    }

    @PreDestroy
    void disconnect() {
        redis.close();
    }

    void handle(@Subscribe(stream = STREAM) Message order) throws InterruptedException {
        try (AbstractPipeline pipeline = redis.pipelined()) {
            pipeline.hincrBy(HANDLED, order.id(), 1);
            pipeline.sadd(HANDLED_BY + consumer, order.id());
            pipeline.sync();
        }
        if (HANG.compareAndSet(true, false)) {
            System.out.println("HANGING " + order.id());
            System.out.flush();
            new CountDownLatch(1).await(); // SIGKILL comes here, in the middle of a handler
        }
    }
}
