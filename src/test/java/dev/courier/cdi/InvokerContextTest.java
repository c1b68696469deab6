package dev.courier.cdi;

import dev.courier.Subscribe;
import dev.courier.testing.Deployment;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Dependent;
import jakarta.enterprise.context.Destroyed;
import jakarta.enterprise.context.Initialized;
import jakarta.enterprise.context.RequestScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.spi.BeanManager;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    /** A subscriber bean made for each call, with nothing injected: only the bean itself is dependent. */
    @Dependent
    static class DependentHandler {
        static final List<Integer> handled = new CopyOnWriteArrayList<>();
        static final List<Integer> destroyed = new CopyOnWriteArrayList<>();
        static final AtomicInteger created = new AtomicInteger();
        final int number = created.incrementAndGet();

        void on(@Subscribe(stream = "dependent") Map<String, Object> message) {
            handled.add(number);
        }

        @PreDestroy
        void destroy() {
            destroyed.add(number);
        }
    }

    /** The request context's lifecycle events, with the thread each came on. */
    @ApplicationScoped
    static class RequestEvents {
        static final List<Thread> initialized = new CopyOnWriteArrayList<>();
        static final List<Thread> destroyed = new CopyOnWriteArrayList<>();

        void initialized(@Observes @Initialized(RequestScoped.class) Object payload) {
            initialized.add(Thread.currentThread());
        }

        /** Of String events: the payload is a String, as Weld's own controller fires it. */
        void destroyed(@Observes @Destroyed(RequestScoped.class) String payload) {
            destroyed.add(Thread.currentThread());
        }
    }

    @BeforeEach
    void reset() {
        PerMessage.created.set(0);
        PerMessage.destroyed.clear();
        Helper.created.set(0);
        Helper.destroyed.clear();
        DependentHandler.handled.clear();
        DependentHandler.destroyed.clear();
        RequestEvents.initialized.clear();
        RequestEvents.destroyed.clear();
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

    @Test
    void a_dependent_subscriber_bean_is_new_for_each_call_and_destroyed_after_it() {
        try (Deployment app = Deployment.of(Deployment.inline("brokers.default.max-retries", "0"),
                DependentHandler.class)) {
            for (String name : List.of("a", "b", "c")) {
                app.broker().publish("dependent", Map.of("name", name));
            }
            await().atMost(WAIT).until(() -> DependentHandler.handled.size() == 3);
            await().atMost(WAIT).until(() -> DependentHandler.destroyed.size() == 3);
            assertEquals(3, new HashSet<>(DependentHandler.handled).size(), "an instance per call: "
                    + DependentHandler.handled);
            assertEquals(DependentHandler.handled, DependentHandler.destroyed);
        }
    }

    @Test
    void each_message_fires_the_request_context_events_on_the_loop_thread_where_they_are_observed() {
        try (Deployment app = Deployment.of(Deployment.inline("brokers.default.max-retries", "0"), Handler.class,
                PerMessage.class, Helper.class, RequestEvents.class)) {
            Handler handler = app.bean(Handler.class);
            for (String name : List.of("a", "b", "c")) {
                app.broker().publish("context", Map.of("name", name));
            }
            await().atMost(WAIT).until(() -> handler.calls().size() == 3);
            Thread loop = handler.calls().get(0).thread();
            await().atMost(WAIT).until(() -> RequestEvents.destroyed.stream().filter(loop::equals).count() == 3);
            assertEquals(3, RequestEvents.initialized.stream().filter(loop::equals).count());
        }
    }

    @Test
    void on_weld_the_invoker_drives_weld_s_request_context_itself() {
        try (Deployment app = deploy()) {
            assertInstanceOf(RequestContexts.Weld.class, RequestContexts.of(app.bean(BeanManager.class), "test"),
                    "not the portable controller, whose cost it avoids");
        }
    }

    @Test
    void both_ways_activate_a_request_context_only_where_none_is_active_and_end_it() {
        try (Deployment app = deploy()) {
            BeanManager beanManager = app.bean(BeanManager.class);
            for (RequestContexts contexts : List.of(RequestContexts.of(beanManager, "test"),
                    RequestContexts.portable(beanManager))) {
                String way = contexts.getClass().getSimpleName();
                assertFalse(requestContextActive(beanManager), way);
                assertTrue(contexts.activate(), way + " activates one");
                assertTrue(requestContextActive(beanManager), way);
                assertFalse(contexts.activate(), way + " leaves the active one alone");
                contexts.deactivate();
                assertFalse(requestContextActive(beanManager), way + " ends it");
            }
        }
    }

    private static boolean requestContextActive(BeanManager beanManager) {
        try {
            return beanManager.getContext(RequestScoped.class).isActive();
        } catch (jakarta.enterprise.context.ContextNotActiveException e) {
            return false;
        }
    }
}
