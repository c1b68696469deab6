package dev.courier.redis;

import dev.courier.Message;
import dev.courier.se.CourierRunner;
import redis.clients.jedis.RedisClient;

import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One instance of an application consuming a partitioned stream through Courier's engine, in a JVM of its own, for
 * {@link PartitionedProcessTest}. Its handler waits a random 0-2 ms (or {@code sleep} ms from the payload), fails 5%
 * of first deliveries, and records each message it handled: {@code RPUSH handled:<key> <n>}. It ends when its
 * standard input closes (the test is gone), at once.
 *
 * <p>Arguments: redis-uri consumer-name category group lease-ttl-seconds concurrency.
 */
public final class PartitionedInstance {

    private PartitionedInstance() {
    }

    public static void main(String[] args) throws Exception {
        String uri = args[0];
        String category = args[2];
        String group = args[3];
        RedisClient records = RedisClient.create(java.net.URI.create(uri));
        try (CourierRunner courier = CourierRunner.builder()
                .property("brokers.default.provider", "redis")
                .property("brokers.default.uri", uri)
                .property("brokers.default.partition-key." + category, "k")
                .property("brokers.default.partition-lease-ttl", args[4])
                .property("brokers.default.max-retries", "50")
                .property("brokers.default.retry-delay", "0.01")
                .property("brokers.default.backoff-multiplier", "1")
                .property("courier.consumer-name", args[1])
                .property("courier.subscribers." + group + ".concurrency", args[5])
                .property(CourierRunner.HEALTH_PORT, "-1")
                .subscribe(category, group, Message.class, m -> handle(records, m))
                .build().start()) {
            System.out.println("STARTED " + ManagementFactory.getRuntimeMXBean().getPid());
            System.out.flush();
            try (InputStream in = System.in) {
                while (in.read() >= 0) {
                    // nothing is sent; wait for the end of the stream
                }
            }
        }
        Runtime.getRuntime().halt(0);
    }

    private static void handle(RedisClient records, Message m) throws Exception {
        String key = String.valueOf(m.payload().get("k"));
        Object sleep = m.payload().get("sleep");
        if (sleep != null) {
            records.rpush("started:" + key, String.valueOf(m.payload().get("n")));
            Thread.sleep(((Number) sleep).longValue());
        } else {
            Thread.sleep(ThreadLocalRandom.current().nextInt(3));
            if (m.deliveryCount() == 1 && ThreadLocalRandom.current().nextInt(100) < 5) {
                throw new IllegalStateException("transient failure");
            }
        }
        records.rpush("handled:" + key, String.valueOf(m.payload().get("n")));
    }
}
