package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.engine.LoopStatus;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import jakarta.enterprise.context.ApplicationScoped;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A failing handler is retried by the broker's policy; a payload that cannot be bound is dead-lettered at once. */
class FailureHandlingTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    record Attempt(int n, int delivery, long at) {
    }

    @ApplicationScoped
    static class Jobs {
        final List<Attempt> attempts = new CopyOnWriteArrayList<>();
        final List<Attempt> done = new CopyOnWriteArrayList<>();

        void run(@Subscribe(stream = "jobs") Message job) {
            Attempt attempt = new Attempt((Integer) job.payload().get("n"), job.deliveryCount(), System.nanoTime());
            attempts.add(attempt);
            if (Boolean.TRUE.equals(job.payload().get("fail"))) {
                throw new IllegalStateException("job " + attempt.n() + " fails");
            }
            done.add(attempt);
        }

        List<Attempt> attempts() {
            return attempts;
        }

        List<Attempt> done() {
            return done;
        }
    }

    @Test
    void a_failing_handler_is_retried_with_backoff_then_dead_lettered_and_the_loop_goes_on() {
        try (Deployment app = Deployment.of(Deployment.inline(
                "brokers.default.max-retries", "2",
                "brokers.default.retry-delay", "0.05",
                "brokers.default.backoff-multiplier", "2"), Jobs.class)) {
            Jobs jobs = app.bean(Jobs.class);
            Broker broker = app.broker();
            broker.publish("jobs", Map.of("type", "job", "n", 1, "fail", true));
            broker.publish("jobs", Map.of("type", "job", "n", 2));

            await().atMost(WAIT).until(() -> broker.deadLetterDepth("jobs") == 1);
            List<Attempt> failing = jobs.attempts().stream().filter(a -> a.n() == 1).toList();
            assertEquals(List.of(1, 2, 3), failing.stream().map(Attempt::delivery).toList(),
                    "delivered once and retried max-retries (2) times");
            long firstGap = failing.get(1).at() - failing.get(0).at();
            long secondGap = failing.get(2).at() - failing.get(1).at();
            assertTrue(firstGap >= Duration.ofMillis(50).toNanos(), "first retry after retry-delay: " + firstGap);
            assertTrue(secondGap >= Duration.ofMillis(100).toNanos(), "second retry backs off: " + secondGap);

            assertEquals(1, jobs.done().size());
            assertEquals(2, jobs.done().get(0).n());
            assertTrue(jobs.done().get(0).at() < failing.get(1).at(),
                    "the next message was handled while the failing one waited for its retry");

            DeadLetter dead = broker.deadLetters("jobs", 10).get(0);
            assertEquals(DeadLetter.MAX_RETRIES_EXCEEDED, dead.reason());
            assertEquals(3, dead.attempts());
            assertEquals(1, dead.message().payload().get("n"));
            String group = Jobs.class.getName();
            await().atMost(WAIT).until(() -> Inspect.loop(app.engine(), "jobs", group).failed() == 3);
            LoopStatus loop = Inspect.loop(app.engine(), "jobs", group);
            assertEquals(1, loop.handled());
            assertEquals(0, loop.unbindable(), "the broker dead-lettered it after its retries; the loop bound it");
            assertEquals(LoopStatus.State.RUNNING, loop.state(), "handler failures are not loop failures");
        }
    }

    public record Reading(String sensor, int value) {
    }

    @ApplicationScoped
    static class Sensors {
        final List<Reading> readings = new CopyOnWriteArrayList<>();

        void record(@Subscribe(stream = "readings") Reading reading) {
            readings.add(reading);
        }

        List<Reading> readings() {
            return readings;
        }
    }

    @Test
    void a_payload_that_cannot_be_bound_is_dead_lettered_at_once_with_the_binding_error() {
        try (Deployment app = Deployment.of(Deployment.inline("brokers.default.max-retries", "5",
                "brokers.default.retry-delay", "0.01"), Sensors.class)) {
            Sensors sensors = app.bean(Sensors.class);
            Broker broker = app.broker();
            broker.publish("readings", Map.of("type", "reading", "sensor", "a", "value", "abc"));
            broker.publish("readings", Map.of("type", "reading", "sensor", "b", "value", 2));

            await().atMost(WAIT).until(() -> sensors.readings().size() == 1 && broker.deadLetterDepth("readings") == 1);
            assertEquals(new Reading("b", 2), sensors.readings().get(0));
            DeadLetter dead = broker.deadLetters("readings", 10).get(0);
            assertEquals(1, dead.attempts(), "no retries");
            assertEquals("abc", dead.message().payload().get("value"));
            assertTrue(dead.reason().startsWith("cannot bind the payload to " + Reading.class.getName() + ": "),
                    dead.reason());
            assertTrue(dead.reason().contains("value"), "the binding error names the field: " + dead.reason());

            String group = Sensors.class.getName();
            await().atMost(WAIT).until(() -> Inspect.loop(app.engine(), "readings", group).handled() == 1);
            LoopStatus loop = Inspect.loop(app.engine(), "readings", group);
            assertEquals(1, loop.unbindable());
            assertEquals(0, loop.failed());
            assertEquals(0, Inspect.inFlight(broker, "readings", group));
            assertEquals(0, Inspect.group(broker, "readings", group, "waiting_retry"), "nothing waits for a retry");
        }
    }
}
