package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerException;
import dev.courier.Brokers;
import dev.courier.HealthStats;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.engine.Engine;
import dev.courier.health.HealthReport;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import dev.courier.testing.RedisServer;
import jakarta.enterprise.context.ApplicationScoped;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A failover under load, as {@link ClusterFailoverTest} and {@link SentinelFailoverTest} run it: an application whose
 * engine consumes {@value #STREAM} while a thread publishes to it (batches of {@value #BATCH}, one a millisecond),
 * then the master holding the stream is killed with SIGKILL. It measures when the first publish begun after the kill
 * returns, and when the set promoted another master, watches readiness go DOWN and come UP, then stops publishing and
 * waits until every entry that survived in the stream is handled and acknowledged. Publishing must resume within 5 s
 * of the kill; where the set itself took longer than 4 s to promote (a loaded machine slows its failure detection,
 * which Courier does not control), within 1 s of the promotion. Two tests: with {@code min-replicas-acked=1} none
 * that publishAll returned is lost; without it the loss is counted and printed. The killed master is restarted after
 * each (it comes back as a replica), so that the next test starts on a whole set.
 */
abstract class FailoverTest {

    static final String STREAM = "failover-events";
    static final int BATCH = 10;
    static final String GROUP = Events.class.getName();

    @ApplicationScoped
    static class Events {
        final Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();

        void handle(@Subscribe(stream = STREAM) Message event) {
            handled.computeIfAbsent(event.id(), id -> new AtomicInteger()).incrementAndGet();
        }

        /** Through the bean's proxy (a field read on the proxy would be its own). */
        Map<String, AtomicInteger> handled() {
            return handled;
        }
    }

    /**
     * @param resumedMillis      kill to the return of the first publish begun after it
     * @param promotedMillis     kill to the moment the set names another master for the stream
     * @param published          ids that publishAll returned
     * @param lost               of those, the ones not in the stream after the failover
     * @param failedPublishes    publishAll calls that threw (refused, or outcome unknown)
     * @param notHandled         ids in the stream that the engine did not handle
     * @param duplicates         deliveries beyond the first (acknowledgements lost with the old master)
     * @param readinessDownMillis kill to readiness DOWN
     * @param readinessUpMillis  kill to readiness UP again
     * @param before             the broker's health before the kill
     * @param during             its health just after the kill
     * @param after              its health once readiness is UP again (the old master still down)
     */
    record Figures(long resumedMillis, long promotedMillis, int published, int lost, int failedPublishes,
                   int notHandled, long duplicates, long readinessDownMillis, long readinessUpMillis,
                   HealthStats before, HealthStats during, HealthStats after) {

        String describe(String what) {
            return String.format("%s: first publish %d ms after kill -9 (new master %d ms after it); published=%d, "
                            + "lost=%d, failed publishAll calls=%d, not handled=%d, duplicates=%d; readiness DOWN "
                            + "after %d ms, UP after %d ms",
                    what, resumedMillis, promotedMillis, published, lost, failedPublishes, notHandled, duplicates,
                    readinessDownMillis, readinessUpMillis);
        }
    }

    private RedisServer killed;

    /** What is failed over, for the figures printed. */
    abstract String what();

    /** The broker's uri. */
    abstract String uri();

    /** The master that holds the stream now. */
    abstract RedisServer master();

    /** Waits until every node runs and is in sync again. */
    abstract void awaitWhole();

    @AfterEach
    void restartKilledMaster() {
        if (killed != null) {
            killed.start();
            awaitWhole();
            killed = null;
        }
    }

    /** Health before, during and after: the topology, the failover, the old master missing. */
    private void assertHealthFollows(Figures figures) {
        assertEquals(HealthStats.Status.HEALTHY, figures.before().status(), figures.before().toString());
        assertEquals(what(), figures.before().details().get("topology"));
        assertEquals(false, figures.before().details().get("failover_in_progress"));
        // Just after the kill the broker is UNHEALTHY: its master does not answer (the data says how it sees it).
        assertEquals(HealthStats.Status.UNHEALTHY, figures.during().status(), figures.during().toString());
        assertEquals(HealthStats.Status.DEGRADED, figures.after().status(),
                "the old master is missing: " + figures.after());
        assertEquals(false, figures.after().details().get("failover_in_progress"));
        String all = figures.before() + " " + figures.during() + " " + figures.after();
        assertFalse(all.contains("password") || all.contains("@"), all);
    }

    @Test
    void with_min_replicas_acked_publishing_resumes_within_5_s_and_nothing_returned_is_lost() {
        Figures figures = failover(1);
        assertEquals(0, figures.lost(), figures.describe("lost"));
    }

    @Test
    void without_min_replicas_acked_publishing_resumes_within_5_s_and_the_loss_is_counted() {
        failover(0); // the loss, if any, is printed
    }

    /** Runs a failover, prints its figures and asserts what holds with or without min-replicas-acked. */
    private Figures failover(int minReplicasAcked) {
        Figures figures = run(minReplicasAcked);
        System.out.println(figures.describe(what() + " failover, min-replicas-acked=" + minReplicasAcked));
        long allowed = Math.max(5_000, figures.promotedMillis() + 1_000);
        assertTrue(figures.resumedMillis() <= allowed, figures.describe("resumed later than " + allowed + " ms"));
        assertEquals(0, figures.notHandled(), figures.describe("not handled"));
        assertHealthFollows(figures);
        return figures;
    }

    private Figures run(int minReplicasAcked) {
        try (Deployment app = Deployment.of(Map.of(
                "brokers.default.provider", RedisBrokerProvider.NAME,
                "brokers.default.uri", uri(),
                "brokers.default.message-timeout", "1",
                "brokers.default.failover-timeout", "10",
                "brokers.default.min-replicas-acked", Integer.toString(minReplicasAcked),
                "courier.consumer-name", "failover-" + minReplicasAcked), Events.class)) {
            Map<String, AtomicInteger> handled = app.bean(Events.class).handled();
            Broker broker = app.broker();
            Brokers brokers = app.bean(Brokers.class);
            Engine engine = app.engine();

            Set<String> published = ConcurrentHashMap.newKeySet();
            AtomicInteger failures = new AtomicInteger();
            AtomicReference<String> lastFailure = new AtomicReference<>();
            AtomicLong killedAt = new AtomicLong(Long.MAX_VALUE);
            AtomicLong resumedAt = new AtomicLong();
            AtomicInteger afterResume = new AtomicInteger();
            List<Map<String, Object>> batch = Collections.nCopies(BATCH, Map.of("type", "event"));
            Thread publisher = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    long begun = System.nanoTime();
                    try {
                        published.addAll(broker.publishAll(STREAM, batch));
                        if (begun > killedAt.get() && resumedAt.get() == 0) {
                            resumedAt.set(System.nanoTime());
                        }
                        if (resumedAt.get() != 0) {
                            afterResume.incrementAndGet();
                        }
                    } catch (BrokerException e) {
                        failures.incrementAndGet();
                        lastFailure.set(e.toString());
                    }
                    LockSupport.parkNanos(1_000_000); // a steady load, not a flood the engine cannot drain
                }
            }, "failover-publisher");
            publisher.start();
            try {
                Supplier<String> state = () -> "published " + published.size() + ", handled " + handled.size()
                        + ", failed publishAll calls " + failures.get() + " (last: " + lastFailure.get()
                        + "), readiness " + HealthReport.readiness(brokers, engine) + ", loop "
                        + Inspect.loop(engine, STREAM, GROUP);
                awaitOr("the engine consumes", Duration.ofSeconds(30), () -> handled.size() >= 500, state);
                awaitOr("readiness UP", Duration.ofSeconds(10),
                        () -> HealthReport.readiness(brokers, engine).up(), state);

                HealthStats before = broker.healthStats();
                RedisServer old = master();
                killed = old;
                killed.kill(); // returns once the process is gone: the time counts from its death
                killedAt.set(System.nanoTime());
                AtomicLong promotedAt = new AtomicLong();
                Thread promotion = watchPromotion(old, promotedAt);
                awaitOr("readiness DOWN after the kill", Duration.ofSeconds(5),
                        () -> !HealthReport.readiness(brokers, engine).up(), state);
                long downAt = System.nanoTime();
                HealthStats during = broker.healthStats();
                awaitOr("a publish begun after the kill returns", Duration.ofSeconds(20),
                        () -> resumedAt.get() != 0, state);
                promotion.join(20_000);
                awaitOr("readiness UP after the failover", Duration.ofSeconds(20),
                        () -> HealthReport.readiness(brokers, engine).up(), state);
                long upAt = System.nanoTime();
                HealthStats after = broker.healthStats();
                awaitOr("publishing goes on", Duration.ofSeconds(20), () -> afterResume.get() >= 100, state);
                publisher.interrupt();
                publisher.join(30_000);

                Set<String> present = ids(master());
                Set<String> lost = new HashSet<>(published);
                lost.removeAll(present);
                Set<String> survived = new HashSet<>(published);
                survived.retainAll(present);
                awaitOr("every entry that survived is handled and acknowledged", Duration.ofSeconds(60),
                        () -> handled.keySet().containsAll(survived) && pending(master()) == 0, state);
                Set<String> notHandled = new HashSet<>(survived);
                notHandled.removeAll(handled.keySet());
                long duplicates = handled.values().stream().mapToInt(AtomicInteger::get).sum() - handled.size();
                return new Figures((resumedAt.get() - killedAt.get()) / 1_000_000,
                        (promotedAt.get() - killedAt.get()) / 1_000_000, published.size(), lost.size(),
                        failures.get(), notHandled.size(), duplicates, (downAt - killedAt.get()) / 1_000_000,
                        (upAt - killedAt.get()) / 1_000_000, before, during, after);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            } finally {
                publisher.interrupt();
            }
        }
    }

    /**
     * A thread that sets {@code promotedAt} once the set names a master other than {@code old} for the stream,
     * looking every 10 ms (a node may refuse while the set fails over); it gives up after 20 s.
     */
    private Thread watchPromotion(RedisServer old, AtomicLong promotedAt) {
        Thread watcher = new Thread(() -> {
            long giveUp = System.nanoTime() + 20_000_000_000L;
            while (promotedAt.get() == 0 && System.nanoTime() < giveUp) {
                try {
                    if (master() != old) {
                        promotedAt.set(System.nanoTime());
                    }
                } catch (RuntimeException e) {
                    // refused or reset during the failover: look again
                }
                LockSupport.parkNanos(10_000_000);
            }
        }, "failover-promotion-watch");
        watcher.setDaemon(true);
        watcher.start();
        return watcher;
    }

    /** Awaits the condition, polling every 20 ms; if it does not come, fails saying what and the state. */
    private static void awaitOr(String what, Duration timeout, Callable<Boolean> condition, Supplier<String> state) {
        try {
            await(what).atMost(timeout).pollInterval(Duration.ofMillis(20)).until(condition);
        } catch (ConditionTimeoutException e) {
            throw new AssertionError(what + " within " + timeout + ": not so; " + state.get(), e);
        }
    }

    /** The ids of the stream's entries, as its master holds them. */
    private static Set<String> ids(RedisServer master) {
        Set<String> ids = new HashSet<>();
        for (Object entry : (List<?>) master.command("XRANGE", STREAM, "-", "+")) {
            ids.add(new String((byte[]) ((List<?>) entry).get(0), StandardCharsets.UTF_8));
        }
        return ids;
    }

    private static long pending(RedisServer master) {
        return (Long) ((List<?>) master.command("XPENDING", STREAM, GROUP)).get(0);
    }
}
