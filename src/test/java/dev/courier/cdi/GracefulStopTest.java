package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.engine.Engine;
import dev.courier.engine.LoopStatus;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import jakarta.enterprise.context.ApplicationScoped;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Stopping the application lets running handlers finish within the shutdown timeout, and never hangs. */
class GracefulStopTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    @ApplicationScoped
    static class SlowWorker {
        /** How long a handler works. */
        static final Duration WORK = Duration.ofMillis(700);

        final CountDownLatch started = new CountDownLatch(1);
        final List<Object> finished = new CopyOnWriteArrayList<>();
        final List<Object> begun = new CopyOnWriteArrayList<>();

        void work(@Subscribe(stream = "work") Message message) throws InterruptedException {
            begun.add(message.payload().get("n"));
            started.countDown();
            Thread.sleep(WORK.toMillis()); // the work itself, not a wait for a condition
            finished.add(message.payload().get("n"));
        }

        CountDownLatch started() {
            return started;
        }

        List<Object> finished() {
            return finished;
        }

        List<Object> begun() {
            return begun;
        }
    }

    @Test
    void a_running_handler_completes_and_is_acknowledged_and_the_rest_of_the_batch_is_left_for_redelivery()
            throws InterruptedException {
        Deployment app = Deployment.of(Deployment.inline("courier.engine.shutdown-timeout", "5"), SlowWorker.class);
        SlowWorker worker = app.bean(SlowWorker.class);
        List<Object> begun = worker.begun();         // the lists themselves: the bean's proxy dies with the app
        List<Object> finished = worker.finished();
        Broker broker = app.broker();
        Engine engine = app.engine();
        // One publishAll: the loop reads both in one batch, never message 1 alone.
        broker.publishAll("work", List.of(Map.of("type", "job", "n", 1), Map.of("type", "job", "n", 2)));
        assertTrue(worker.started().await(WAIT.toSeconds(), TimeUnit.SECONDS));

        long begin = System.nanoTime();
        app.close();
        Duration stopTook = Duration.ofNanos(System.nanoTime() - begin);

        assertEquals(List.of(1), finished, "the running handler completed");
        assertEquals(List.of(1), begun, "no new message was started after the stop");
        assertTrue(stopTook.compareTo(Duration.ofSeconds(5)) < 0, "stop returned within the timeout: " + stopTook);
        String group = SlowWorker.class.getName();
        assertEquals(1, Inspect.inFlight(broker, "work", group),
                "message 1 acknowledged; message 2, read in the same batch, left pending for redelivery");
        assertTrue(broker.read("work", group, 10).isEmpty(), "message 2 is held by the group, not consumed");
        LoopStatus loop = engine.status().loops().get(0);
        assertEquals(LoopStatus.State.STOPPED, loop.state());
        assertEquals(1, loop.handled());
        assertFalse(engine.status().started());
    }

    @ApplicationScoped
    static class StuckWorker {
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch interrupted = new CountDownLatch(1);
        final CountDownLatch never = new CountDownLatch(1);

        void work(@Subscribe(stream = "stuck") Message message) throws InterruptedException {
            started.countDown();
            try {
                never.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                interrupted.countDown();
                throw e;
            }
        }

        CountDownLatch started() {
            return started;
        }

        CountDownLatch interrupted() {
            return interrupted;
        }
    }

    @Test
    void a_handler_that_outlives_the_shutdown_timeout_does_not_hang_the_stop_and_its_message_is_not_acknowledged()
            throws InterruptedException {
        Deployment app = Deployment.of(Deployment.inline("courier.engine.shutdown-timeout", "0.3"),
                StuckWorker.class);
        StuckWorker worker = app.bean(StuckWorker.class);
        CountDownLatch interrupted = worker.interrupted();
        Broker broker = app.broker();
        Engine engine = app.engine();
        broker.publish("stuck", Map.of("type", "job", "n", 1));
        assertTrue(worker.started().await(WAIT.toSeconds(), TimeUnit.SECONDS));

        long begin = System.nanoTime();
        app.close();
        Duration stopTook = Duration.ofNanos(System.nanoTime() - begin);

        assertTrue(stopTook.compareTo(Duration.ofSeconds(3)) < 0, "stop gave up after the timeout: " + stopTook);
        assertTrue(stopTook.compareTo(Duration.ofMillis(300)) >= 0, "stop waited for the timeout: " + stopTook);
        assertTrue(interrupted.await(WAIT.toSeconds(), TimeUnit.SECONDS), "the handler was interrupted");
        await().atMost(WAIT).until(() -> engine.status().loops().get(0).state() == LoopStatus.State.STOPPED);
        String group = StuckWorker.class.getName();
        assertEquals(1, Inspect.inFlight(broker, "stuck", group), "neither acknowledged nor rejected");
        assertEquals(0, Inspect.group(broker, "stuck", group, "waiting_retry"));
        assertEquals(0, engine.status().loops().get(0).handled());
        assertEquals(0, engine.status().loops().get(0).failed());
    }
}
