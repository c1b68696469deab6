package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerConnectionException;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.engine.Engine;
import dev.courier.engine.LoopStatus;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import jakarta.enterprise.context.ApplicationScoped;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Redis goes away for ten seconds under a running engine, in the middle of a backlog, and comes back with its
 * append-only file: no exception escapes the loop, which backs off and shows itself unhealthy meanwhile, then resumes
 * by itself; every message published before and after the outage is handled.
 */
// everysec: a stop (SIGTERM) writes and syncs the append-only file, and acknowledgements are not slowed by an fsync each.
@WithRedis(controllable = true, args = {"--appendonly", "yes", "--appendfsync", "everysec"})
class RedisOutageTest {

    static final Duration OUTAGE = Duration.ofSeconds(10);
    static final String GROUP = Events.class.getName();

    @ApplicationScoped
    static class Events {
        static final String STREAM = "outage-events";

        final Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();

        void handle(@Subscribe(stream = STREAM) Message event) {
            handled.computeIfAbsent(event.id(), id -> new AtomicInteger()).incrementAndGet();
        }

        Map<String, AtomicInteger> handled() {
            return handled;
        }
    }

    private final List<Throwable> uncaught = new CopyOnWriteArrayList<>();
    private Thread.UncaughtExceptionHandler previous;

    @BeforeEach
    void watchUncaughtExceptions() {
        previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> uncaught.add(e));
    }

    @AfterEach
    void restoreHandler() {
        Thread.setDefaultUncaughtExceptionHandler(previous);
    }

    @Test
    void the_loop_backs_off_while_redis_is_down_and_resumes_by_itself_losing_nothing(RedisServer redis) {
        try (Deployment app = Deployment.of(Map.of(
                "brokers.default.provider", RedisBrokerProvider.NAME,
                "brokers.default.uri", redis.uri(),
                "brokers.default.message-timeout", "1",
                "brokers.default.connect-timeout", "0.5",
                "brokers.default.socket-timeout", "1",
                "courier.consumer-name", "instance-1"), Events.class)) {
            Map<String, AtomicInteger> handled = app.bean(Events.class).handled();
            Broker broker = app.broker();
            Engine engine = app.engine();
            Set<String> published = new HashSet<>(broker.publishAll(Events.STREAM, events(0, 2000)));

            // Down in the middle of the backlog: a read, a handler or an acknowledgement is under way.
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(1)).until(() -> handled.size() >= 300);
            redis.stop();
            long down = System.nanoTime();
            int handledAtStop = handled.size();

            await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10))
                    .until(() -> loop(engine).state() == LoopStatus.State.BACKING_OFF);
            LoopStatus backingOff = loop(engine);
            assertFalse(backingOff.healthy());
            assertTrue(backingOff.lastError().startsWith(BrokerConnectionException.class.getName()),
                    backingOff.lastError());
            assertThrows(BrokerConnectionException.class, () -> broker.publish(Events.STREAM, Map.of("n", -1)),
                    "the application's own publish fails: that is the caller's to handle");
            assertEquals(HealthStats.Status.UNHEALTHY, broker.healthStats().status());
            // The outage itself: for its whole length the loop stays alive and reports itself unhealthy.
            await().during(OUTAGE.minusMillis((System.nanoTime() - down) / 1_000_000))
                    .atMost(OUTAGE.plusSeconds(2)).pollInterval(Duration.ofMillis(100))
                    .until(() -> loop(engine).state() == LoopStatus.State.BACKING_OFF && !loop(engine).healthy());
            int handledDuringOutage = handled.size() - handledAtStop;

            redis.start();
            long up = System.nanoTime();
            published.addAll(broker.publishAll(Events.STREAM, events(2000, 2100)));
            long[] resumedAt = {0};
            await().atMost(Duration.ofSeconds(45)).pollInterval(Duration.ofMillis(10)).until(() -> {
                if (resumedAt[0] == 0 && loop(engine).state() == LoopStatus.State.RUNNING) {
                    resumedAt[0] = System.nanoTime();
                }
                return handled.keySet().containsAll(published);
            });
            long allHandledAt = System.nanoTime();
            await().atMost(Duration.ofSeconds(10)).until(() -> pending(redis) == 0);

            Set<String> lost = new HashSet<>(published);
            lost.removeAll(handled.keySet());
            long duplicates = handled.values().stream().mapToInt(AtomicInteger::get).sum() - handled.size();
            LoopStatus after = loop(engine);
            System.out.printf("redis outage under the engine: published=%d (2000 before, 100 after), handled=%d, "
                            + "duplicates=%d, lost=%d; handled when Redis stopped=%d, during the outage=%d; "
                            + "outage %d ms; consumption resumed %d ms after Redis was back, all handled after %d ms; "
                            + "loop error meanwhile: %s%n",
                    published.size(), handled.size(), duplicates, lost.size(), handledAtStop, handledDuringOutage,
                    (up - down) / 1_000_000, (resumedAt[0] - up) / 1_000_000, (allHandledAt - up) / 1_000_000,
                    backingOff.lastError());

            assertEquals(Set.of(), lost, "lost");
            assertEquals(List.of(), uncaught, "no exception escaped a thread");
            assertEquals(LoopStatus.State.RUNNING, after.state());
            assertTrue(after.healthy());
            assertEquals(null, after.lastError());
            assertEquals(0L, broker.deadLetterDepth(Events.STREAM), "nothing dead-lettered");
            assertEquals(HealthStats.Status.HEALTHY, broker.healthStats().status());
        }
    }

    private static List<Map<String, Object>> events(int from, int to) {
        List<Map<String, Object>> events = new ArrayList<>();
        for (int n = from; n < to; n++) {
            events.add(Map.of("type", "event", "n", n));
        }
        return events;
    }

    private static LoopStatus loop(Engine engine) {
        return Inspect.loop(engine, Events.STREAM, GROUP);
    }

    @SuppressWarnings("unchecked")
    private static long pending(RedisServer redis) {
        return (Long) ((List<Object>) redis.command("XPENDING", Events.STREAM, GROUP)).get(0);
    }
}
