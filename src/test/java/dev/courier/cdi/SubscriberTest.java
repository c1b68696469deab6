package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.engine.Engine;
import dev.courier.engine.LoopStatus;
import dev.courier.internal.JsonCodec;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.RequestScoped;
import jakarta.enterprise.inject.spi.BeanManager;
import jakarta.inject.Qualifier;
import jakarta.json.bind.annotation.JsonbProperty;
import org.junit.jupiter.api.Test;

import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** @Subscribe methods receive the messages of their stream, by type, with their other parameters injected. */
class SubscriberTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    // --- Protean's example

    public record UserRegistered(@JsonbProperty("user_id") String userId, String email) {
    }

    @ApplicationScoped
    static class UserEventSubscriber {
        final List<Map<String, Object>> asMaps = new CopyOnWriteArrayList<>();
        final List<UserRegistered> asRecords = new CopyOnWriteArrayList<>();

        List<Map<String, Object>> asMaps() {
            return asMaps;
        }

        List<UserRegistered> asRecords() {
            return asRecords;
        }

        void sendWelcomeEmail(@Subscribe(stream = "user-events", type = "user.registered") Map<String, Object> event) {
            asMaps.add(event);
        }

        void sendWelcomeEmailTyped(@Subscribe(stream = "user-events", type = "user.registered") UserRegistered event) {
            asRecords.add(event);
        }
    }

    @Test
    void proteans_user_registered_handler_gets_the_message_as_a_map_and_as_a_record() {
        try (Deployment app = Deployment.of(Deployment.inline(), UserEventSubscriber.class)) {
            UserEventSubscriber subscriber = app.bean(UserEventSubscriber.class);
            app.bean(Brokers.class).publish("user-events", Map.of(
                    "event_type", "user.registered", "user_id", "123", "email", "user@example.com"));

            await().atMost(WAIT).until(() -> subscriber.asMaps().size() == 1 && subscriber.asRecords().size() == 1);
            assertEquals(Map.of("event_type", "user.registered", "user_id", "123", "email", "user@example.com"),
                    subscriber.asMaps().get(0));
            assertEquals(new UserRegistered("123", "user@example.com"), subscriber.asRecords().get(0));

            String group = UserEventSubscriber.class.getName();
            await().atMost(WAIT).until(() -> Inspect.loop(app.engine(), "user-events", group).handled() == 1);
            assertEquals(0, Inspect.inFlight(app.broker(), "user-events", group), "acknowledged");
        }
    }

    // --- dispatch by type

    @ApplicationScoped
    static class OrderSubscriber {
        final List<String> placed = new CopyOnWriteArrayList<>();
        final List<String> shipped = new CopyOnWriteArrayList<>();
        final List<String> everything = new CopyOnWriteArrayList<>();

        List<String> placed() {
            return placed;
        }

        List<String> shipped() {
            return shipped;
        }

        List<String> everything() {
            return everything;
        }

        void placed(@Subscribe(stream = "orders", type = "order.placed") Message message) {
            placed.add((String) message.payload().get("id"));
        }

        void shipped(@Subscribe(stream = "orders", type = "order.shipped") Map<String, Object> payload) {
            shipped.add((String) payload.get("id"));
        }

        void everything(@Subscribe(stream = "orders") String json) {
            everything.add(json);
        }
    }

    @ApplicationScoped
    static class PaymentSubscriber {
        final List<Message> received = new CopyOnWriteArrayList<>();

        List<Message> received() {
            return received;
        }

        void received(@Subscribe(stream = "payments", type = "payment.received") Message message) {
            received.add(message);
        }
    }

    @Test
    void each_message_goes_to_the_methods_whose_type_matches_and_to_the_catch_all() {
        try (Deployment app = Deployment.of(Deployment.inline(), OrderSubscriber.class)) {
            OrderSubscriber subscriber = app.bean(OrderSubscriber.class);
            Broker broker = app.broker();
            broker.publish("orders", Map.of("event_type", "order.placed", "id", "1"));
            broker.publish("orders", Map.of("type", "order.shipped", "id", "2"));
            broker.publish("orders", Map.of("event_type", "order.cancelled", "id", "3"));

            await().atMost(WAIT).until(() -> subscriber.everything().size() == 3);
            assertEquals(List.of("1"), subscriber.placed());
            assertEquals(List.of("2"), subscriber.shipped());
            assertEquals(Map.of("event_type", "order.placed", "id", "1"),
                    JsonCodec.parse(subscriber.everything().get(0)), "the String parameter gets the JSON text");
            // The three methods of the bean on the stream share one loop, in the bean's group.
            List<LoopStatus> loops = app.engine().status().loops();
            assertEquals(1, loops.size(), loops.toString());
            assertEquals(OrderSubscriber.class.getName(), loops.get(0).group());
        }
    }

    @Test
    void a_message_no_method_wants_is_acknowledged_and_skipped() {
        try (Deployment app = Deployment.of(Deployment.inline(), PaymentSubscriber.class)) {
            PaymentSubscriber subscriber = app.bean(PaymentSubscriber.class);
            app.broker().publish("payments", Map.of("event_type", "payment.refunded", "id", "1"));
            app.broker().publish("payments", Map.of("event_type", "payment.received", "id", "2"));

            await().atMost(WAIT).until(() -> subscriber.received().size() == 1);
            String group = PaymentSubscriber.class.getName();
            await().atMost(WAIT).until(() -> Inspect.loop(app.engine(), "payments", group).skipped() == 1);
            assertEquals("2", subscriber.received().get(0).payload().get("id"));
            assertEquals(0, Inspect.inFlight(app.broker(), "payments", group), "the skipped one is acknowledged");
            assertEquals(0, Inspect.lag(app.broker(), "payments", group));
            assertEquals(1, Inspect.loop(app.engine(), "payments", group).handled());
        }
    }

    // --- injected parameters

    @Qualifier
    @Retention(RetentionPolicy.RUNTIME)
    @interface Loud {
    }

    @ApplicationScoped
    static class Greeter {
        String greet(String name) {
            return "hello " + name;
        }
    }

    @Loud
    @ApplicationScoped
    static class LoudGreeter extends Greeter {
        @Override
        String greet(String name) {
            return "HELLO " + name.toUpperCase();
        }
    }

    @RequestScoped
    static class RequestCounter {
        static final AtomicInteger created = new AtomicInteger();
        final int number = created.incrementAndGet();

        int number() {
            return number;
        }
    }

    @ApplicationScoped
    static class GreetingSubscriber {
        final List<String> greetings = new CopyOnWriteArrayList<>();
        final List<Integer> requests = new CopyOnWriteArrayList<>();
        final List<Boolean> requestActive = new CopyOnWriteArrayList<>();

        List<String> greetings() {
            return greetings;
        }

        List<Integer> requests() {
            return requests;
        }

        List<Boolean> requestActive() {
            return requestActive;
        }

        void greet(Greeter plain, @Subscribe(stream = "greetings") Map<String, Object> payload, @Loud Greeter loud,
                   RequestCounter perRequest, BeanManager beanManager) {
            greetings.add(plain.greet((String) payload.get("name")) + " / " + loud.greet((String) payload.get("name")));
            requestActive.add(beanManager.getContext(RequestScoped.class).isActive());
            requests.add(perRequest.number());
        }
    }

    @Test
    void other_parameters_are_injected_with_their_qualifiers_in_a_request_context() {
        try (Deployment app = Deployment.of(Deployment.inline(), GreetingSubscriber.class, Greeter.class,
                LoudGreeter.class, RequestCounter.class)) {
            GreetingSubscriber subscriber = app.bean(GreetingSubscriber.class);
            app.broker().publish("greetings", Map.of("type", "greeting", "name", "ada"));
            app.broker().publish("greetings", Map.of("type", "greeting", "name", "bob"));

            await().atMost(WAIT).until(() -> subscriber.greetings().size() == 2);
            assertEquals(List.of("hello ada / HELLO ADA", "hello bob / HELLO BOB"), subscriber.greetings());
            assertEquals(List.of(true, true), subscriber.requestActive());
            assertNotEquals(subscriber.requests().get(0), subscriber.requests().get(1),
                    "each message is handled in a request context of its own");
        }
    }

    @Test
    void the_engine_reports_its_loops() {
        try (Deployment app = Deployment.of(Deployment.inline(), OrderSubscriber.class, PaymentSubscriber.class)) {
            Engine engine = app.engine();
            assertTrue(engine.status().started());
            assertTrue(engine.status().enabled());
            assertEquals(2, engine.status().loops().size());
            await().atMost(WAIT).until(() -> engine.status().loops().stream()
                    .allMatch(l -> l.state() == LoopStatus.State.RUNNING && l.lastCycle() != null));
            assertTrue(engine.status().healthy());
            assertEquals("default", engine.status().loops().get(0).broker());
        }
    }
}
