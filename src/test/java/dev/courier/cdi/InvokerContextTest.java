package dev.courier.cdi;

import dev.courier.Subscribe;
import dev.courier.testing.Deployment;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Dependent;
import jakarta.enterprise.context.RequestScoped;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * What a subscriber method sees of CDI, call after call: a request context of its own per message (its
 * request-scoped beans new, and destroyed after it), its {@code @Dependent} parameters destroyed after the call, and
 * nothing left active on the loop thread when it throws.
 */
class InvokerContextTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    @RequestScoped
    static class PerMessage {
        static final AtomicInteger created = new AtomicInteger();
        static final List<Integer> destroyed = new CopyOnWriteArrayList<>();
        final int number = created.incrementAndGet();

        int number() {
            return number;
        }

        @PreDestroy
        void destroy() {
            destroyed.add(number);
        }
    }

    @Dependent
    static class Helper {
        static final AtomicInteger created = new AtomicInteger();
        static final List<Integer> destroyed = new CopyOnWriteArrayList<>();
        final int number = created.incrementAndGet();

        @PreDestroy
        void destroy() {
            destroyed.add(number);
        }
    }

    /** One call as the handler saw it. */
    record Call(String name, int requestBean, int helper, List<Integer> helpersDestroyedBefore, Thread thread) {
    }

    @ApplicationScoped
    static class Handler {
        final List<Call> calls = new CopyOnWriteArrayList<>();

        List<Call> calls() {
            return calls;
        }

        void on(@Subscribe(stream = "context") Map<String, Object> message, PerMessage perMessage, Helper helper) {
            calls.add(new Call((String) message.get("name"), perMessage.number(), helper.number,
                    List.copyOf(Helper.destroyed), Thread.currentThread()));
            if (Boolean.TRUE.equals(message.get("fail"))) {
                throw new IllegalStateException("asked to fail");
            }
        }
    }

    @BeforeEach
    void reset() {
        PerMessage.created.set(0);
        PerMessage.destroyed.clear();
        Helper.created.set(0);
        Helper.destroyed.clear();
    }

    private static Deployment deploy() {
        return Deployment.of(Deployment.inline("brokers.default.max-retries", "0"), Handler.class, PerMessage.class,
                Helper.class);
    }

    @Test
    void each_message_gets_a_new_request_scoped_bean_destroyed_after_it() {
        try (Deployment app = deploy()) {
            Handler handler = app.bean(Handler.class);
            for (String name : List.of("a", "b", "c")) {
                app.broker().publish("context", Map.of("name", name));
            }
            await().atMost(WAIT).until(() -> handler.calls().size() == 3);
            List<Integer> numbers = handler.calls().stream().map(Call::requestBean).toList();
            assertEquals(3, new HashSet<>(numbers).size(), "a request-scoped bean per message: " + numbers);
            await().atMost(WAIT).until(() -> PerMessage.destroyed.size() == 3);
            assertEquals(new HashSet<>(numbers), new HashSet<>(PerMessage.destroyed));
        }
    }

    @Test
    void a_dependent_parameter_is_destroyed_after_each_call() {
        try (Deployment app = deploy()) {
            Handler handler = app.bean(Handler.class);
            for (String name : List.of("a", "b", "c")) {
                app.broker().publish("context", Map.of("name", name));
            }
            await().atMost(WAIT).until(() -> handler.calls().size() == 3);
            await().atMost(WAIT).until(() -> Helper.destroyed.size() == 3);
            List<Call> calls = handler.calls();
            for (int i = 0; i < 3; i++) {
                assertEquals(calls.subList(0, i).stream().map(Call::helper).toList(),
                        calls.get(i).helpersDestroyedBefore(),
                        "call " + i + " runs after the helpers of the calls before it were destroyed");
            }
            assertEquals(calls.stream().map(Call::helper).toList(), Helper.destroyed);
        }
    }

    @Test
    void a_handler_that_throws_leaves_no_request_context_active_on_the_loop_thread() {
        try (Deployment app = deploy()) {
            Handler handler = app.bean(Handler.class);
            app.broker().publish("context", Map.of("name", "fails", "fail", true));
            await().atMost(WAIT).until(() -> handler.calls().size() == 1);
            app.broker().publish("context", Map.of("name", "next"));
            await().atMost(WAIT).until(() -> handler.calls().size() == 2);

            Call failed = handler.calls().get(0);
            Call next = handler.calls().get(1);
            assertEquals(failed.thread(), next.thread(), "both on the loop thread");
            // Had the failed call left its context active, the next one would have run in it, with its bean.
            assertNotEquals(failed.requestBean(), next.requestBean(), "the next message has a context of its own");
            await().atMost(WAIT).until(() -> PerMessage.destroyed.contains(failed.requestBean()));
            await().atMost(WAIT).until(() -> Helper.destroyed.contains(failed.helper()));
        }
    }
}
