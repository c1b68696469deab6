package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.Message;
import dev.courier.spi.BrokerSettings;
import redis.clients.jedis.RedisClient;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Consumers of one group on a {@code redis_pubsub} broker, run by {@link RedisListBrokerTest} in a JVM of its own
 * and in the test's: each thread reads until the group's position has passed {@code total} items and a read comes
 * back empty. The ids read go to a file, one a line.
 *
 * <p>Arguments: uri stream group threads total out-file.
 */
final class ListConsumer {

    private ListConsumer() {
    }

    /** Printed once the consumers are reading. */
    static final String READY = "READY";

    public static void main(String[] args) throws Exception {
        dev.courier.testing.EndsWithParent.watch();
        List<String> ids = consume(args[0], args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                () -> {
                    System.out.println(READY);
                    System.out.flush();
                });
        Files.write(Path.of(args[5]), ids);
    }

    static List<String> consume(String uri, String stream, String group, int threads, int total) throws Exception {
        return consume(uri, stream, group, threads, total, () -> { });
    }

    static List<String> consume(String uri, String stream, String group, int threads, int total, Runnable reading)
            throws Exception {
        List<String> ids = Collections.synchronizedList(new ArrayList<>());
        try (Broker broker = new RedisPubSubBrokerProvider().create("consumers",
                new BrokerSettings("consumers", RedisPubSubBrokerProvider.NAME, Map.of("uri", uri)));
             RedisClient redis = RedisClient.create(URI.create(uri))) {
            broker.ping(); // connected
            reading.run();
            List<Thread> running = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Thread thread = new Thread(() -> {
                    while (true) {
                        List<Message> batch = broker.read(stream, group, 50);
                        batch.forEach(m -> ids.add(m.id()));
                        if (batch.isEmpty() && position(redis, stream, group) >= total) {
                            return;
                        }
                    }
                });
                thread.start();
                running.add(thread);
            }
            for (Thread thread : running) {
                thread.join();
            }
        }
        return ids;
    }

    private static long position(RedisClient redis, String stream, String group) {
        String value = redis.get(RedisListBroker.positionKey(stream, group));
        return value == null ? 0 : Long.parseLong(value);
    }

    static Path tempFile() throws IOException {
        return Files.createTempFile("courier-list-consumer", ".txt");
    }
}
