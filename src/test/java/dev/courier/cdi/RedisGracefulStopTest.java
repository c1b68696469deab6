package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.engine.LoopStatus;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import jakarta.enterprise.context.ApplicationScoped;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.params.XPendingParams;
import redis.clients.jedis.resps.StreamPendingEntry;

import java.net.URI;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Stopping an application that consumes from {@code redis}: the running handler completes and is acknowledged, the
 * stop returns within the shutdown timeout, and the messages of the batch that were not started stay pending, to be
 * delivered when the application starts again.
 */
@WithRedis
class RedisGracefulStopTest {

    static final Duration WAIT = Duration.ofSeconds(10);
    static final String GROUP = SlowWorker.class.getName();

    @ApplicationScoped
    static class SlowWorker {
        static final String STREAM = "slow-work";
        static final Duration WORK = Duration.ofMillis(700);

        final CountDownLatch started = new CountDownLatch(1);
        final List<Object> begun = new CopyOnWriteArrayList<>();
        final List<Object> finished = new CopyOnWriteArrayList<>();

        void work(@Subscribe(stream = STREAM) Message job) throws InterruptedException {
            begun.add(job.payload().get("n"));
            started.countDown();
            Thread.sleep(WORK.toMillis()); // the work itself, not a wait for a condition
            finished.add(job.payload().get("n"));
        }

        CountDownLatch started() {
            return started;
        }

        List<Object> begun() {
            return begun;
        }

        List<Object> finished() {
            return finished;
        }
    }

    /**
     * A long message-timeout, so that nothing comes back by XAUTOCLAIM during the test: what is delivered again after
     * the restart comes back because the instance returns under its consumer name.
     */
    static Map<String, String> properties(RedisServer redis, String... more) {
        Map<String, String> properties = new HashMap<>(Map.of(
                "brokers.default.provider", RedisBrokerProvider.NAME,
                "brokers.default.uri", redis.uri(),
                "brokers.default.message-timeout", "300",
                "courier.consumer-name", "worker-1",
                "courier.engine.shutdown-timeout", "5"));
        for (int i = 0; i < more.length; i += 2) {
            properties.put(more[i], more[i + 1]);
        }
        return properties;
    }

    @Test
    void the_running_handler_completes_and_is_acknowledged_and_the_rest_of_the_batch_comes_back_after_a_restart(
            RedisServer redis) throws InterruptedException {
        List<String> ids;
        // Published before the application starts, so that its first read takes all three in one batch.
        try (Broker publisher = new RedisBrokerProvider().create("publisher",
                new BrokerSettings("publisher", RedisBrokerProvider.NAME, Map.of("uri", redis.uri())))) {
            ids = publisher.publishAll(SlowWorker.STREAM, List.of(Map.of("type", "job", "n", 1),
                    Map.of("type", "job", "n", 2), Map.of("type", "job", "n", 3)));
        }
        try (RedisClient client = RedisClient.create(URI.create(redis.uri()))) {
            Deployment app = Deployment.of(properties(redis), SlowWorker.class);
            SlowWorker worker = app.bean(SlowWorker.class);
            List<Object> begun = worker.begun();      // the lists themselves: the bean's proxy dies with the app
            List<Object> finished = worker.finished();
            var engine = app.engine();
            assertTrue(worker.started().await(WAIT.toSeconds(), TimeUnit.SECONDS));

            long begin = System.nanoTime();
            app.close();
            Duration stopTook = Duration.ofNanos(System.nanoTime() - begin);

            assertEquals(List.of(1), finished, "the running handler completed");
            assertEquals(List.of(1), begun, "no message was started after the stop");
            assertTrue(stopTook.compareTo(Duration.ofSeconds(5)) < 0, "stop returned within the timeout: " + stopTook);
            List<StreamPendingEntry> pending = client.xpending(SlowWorker.STREAM, GROUP,
                    XPendingParams.xPendingParams("-", "+", 10));
            assertEquals(ids.subList(1, 3), pending.stream().map(p -> p.getID().toString()).toList(),
                    "message 1 acknowledged; 2 and 3, read in the same batch, pending");
            assertTrue(pending.stream().allMatch(p -> p.getConsumerName().equals("worker-1")
                    && p.getDeliveredTimes() == 1), pending.toString());
            LoopStatus loop = engine.status().loops().get(0);
            assertEquals(LoopStatus.State.STOPPED, loop.state());
            assertEquals(1, loop.handled());
            System.out.printf("graceful stop on redis: stop took %d ms with a %d ms handler running "
                    + "(shutdown-timeout 5000 ms)%n", stopTook.toMillis(), SlowWorker.WORK.toMillis());

            // The same instance starts again: what it held is delivered again, without waiting for message-timeout.
            long restarted = System.nanoTime();
            try (Deployment again = Deployment.of(properties(redis), SlowWorker.class)) {
                SlowWorker second = again.bean(SlowWorker.class);
                await().atMost(WAIT).until(() -> second.finished().size() == 2);
                assertEquals(List.of(2, 3), second.finished());
                await().atMost(WAIT).until(() -> client.xpending(SlowWorker.STREAM, GROUP).getTotal() == 0);
                System.out.printf("graceful stop on redis: the 2 unstarted messages handled %d ms after the restart "
                        + "(message-timeout 300 s)%n", (System.nanoTime() - restarted) / 1_000_000);
                assertEquals(2, Inspect.loop(again.engine(), SlowWorker.STREAM, GROUP).handled());
            }
        }
    }

    /** INFO commandstats: calls by command. */
    private static Map<String, Long> commandCalls(RedisServer redis) {
        Map<String, Long> calls = new java.util.TreeMap<>();
        String info = new String((byte[]) redis.command("INFO", "commandstats"), java.nio.charset.StandardCharsets.UTF_8);
        for (String line : info.split("\r?\n")) {
            if (line.startsWith("cmdstat_")) {
                String command = line.substring("cmdstat_".length(), line.indexOf(':'));
                String count = line.substring(line.indexOf("calls=") + 6, line.indexOf(',', line.indexOf("calls=")));
                if (!command.equals("info") && !command.equals("config")) {
                    calls.put(command, Long.parseLong(count));
                }
            }
        }
        return calls;
    }

    @ApplicationScoped
    static class Idle {
        void never(@Subscribe(stream = "idle") Message message) {
        }
    }

    @Test
    void a_shutdown_timeout_shorter_than_the_block_timeout_is_kept(RedisServer redis) {
        Deployment app = Deployment.of(properties(redis, "courier.engine.block-timeout", "1",
                "courier.engine.shutdown-timeout", "0.2"), Idle.class);
        var engine = app.engine();
        await().atMost(WAIT).until(() -> engine.status().loops().get(0).state() == LoopStatus.State.RUNNING);
        List<String> warnings = new CopyOnWriteArrayList<>();
        Logger logger = Logger.getLogger("dev.courier.engine");
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(record.getMessage());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(capture);
        try {
            long begin = System.nanoTime();
            app.close();
            Duration stopTook = Duration.ofNanos(System.nanoTime() - begin);
            System.out.printf("graceful stop on redis: shutdown-timeout 200 ms, block-timeout 1000 ms: stop took %d "
                    + "ms%n", stopTook.toMillis());
            assertTrue(stopTook.compareTo(Duration.ofMillis(800)) < 0, stopTook.toString());
            await().atMost(WAIT).until(() -> engine.status().loops().get(0).state() == LoopStatus.State.STOPPED);
            assertEquals(List.of(), warnings, "no handler ran, so none is reported as outliving the timeout");
        } finally {
            logger.removeHandler(capture);
        }
    }

    @Test
    void an_idle_loop_in_a_blocking_read_stops_within_the_block_timeout(RedisServer redis) {
        Deployment app = Deployment.of(properties(redis, "courier.engine.block-timeout", "1"), Idle.class);
        var engine = app.engine();
        await().atMost(WAIT).until(() -> engine.status().loops().get(0).state() == LoopStatus.State.RUNNING);
        // Idle, the loop waits in blocking reads: about one XREADGROUP a second, no busy polling.
        redis.command("CONFIG", "RESETSTAT");
        await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(4)).until(() -> true);
        Map<String, Long> calls = commandCalls(redis);
        System.out.printf("idle loop on redis: commands in 3 s: %s%n", calls);
        assertTrue(calls.getOrDefault("xreadgroup", 0L) <= 5, calls.toString());
        assertTrue(calls.values().stream().mapToLong(Long::longValue).sum() <= 20, calls.toString());
        long begin = System.nanoTime();
        app.close();
        Duration stopTook = Duration.ofNanos(System.nanoTime() - begin);
        System.out.printf("graceful stop on redis: an idle loop stopped in %d ms (block-timeout 1000 ms)%n",
                stopTook.toMillis());
        assertTrue(stopTook.compareTo(Duration.ofMillis(1800)) < 0, "stop waited for one blocking read at most: "
                + stopTook);
        assertEquals(LoopStatus.State.STOPPED, engine.status().loops().get(0).state());
    }
}
