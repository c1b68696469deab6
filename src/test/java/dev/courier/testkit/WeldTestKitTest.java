package dev.courier.testkit;

import dev.courier.engine.EngineMode;
import dev.courier.Broker;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.cdi.CourierExtension;
import dev.courier.engine.Engine;
import dev.courier.internal.engine.EngineSettings;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.weld.junit5.auto.AddBeanClasses;
import org.jboss.weld.junit5.auto.AddExtensions;
import org.jboss.weld.junit5.auto.EnableAutoWeld;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CourierTest} in a Weld test, as an application would write it: with no configuration of its own, the
 * default broker is inline in sync mode, {@link TestBrokers} sees what was published, and waits for a retried
 * message to be handled.
 */
@CourierTest
@EnableAutoWeld
@AddExtensions(CourierExtension.class)
@AddBeanClasses(WeldTestKitTest.Greeter.class)
class WeldTestKitTest {

    @ApplicationScoped
    static class Greeter {
        final List<String> greeted = new CopyOnWriteArrayList<>();
        final AtomicInteger failuresLeft = new AtomicInteger();

        void greet(@Subscribe(stream = "greetings") Message greeting) {
            if (failuresLeft.getAndDecrement() > 0) {
                throw new IllegalStateException("failing once, to be retried");
            }
            greeted.add((String) greeting.payload().get("name"));
        }

        List<String> greeted() {
            return List.copyOf(greeted);
        }

        void failOnce() {
            failuresLeft.set(1);
        }
    }

    @Inject
    Broker broker;

    @Inject
    Greeter greeter;

    @Inject
    Engine engine;

    TestBrokers brokers = TestBrokers.fromCdi();

    @Test
    void the_default_broker_is_inline_and_a_publish_returns_once_handled() {
        assertEquals("inline", broker.provider());
        assertEquals(EngineMode.SYNC, engine.status().mode());
        broker.publish("greetings", Map.of("name", "Ada"));
        assertEquals(List.of("Ada"), greeter.greeted(), "handled before publish returned");
        Message published = brokers.assertPublished("greetings");
        assertEquals("Ada", published.payload().get("name"));
        brokers.assertPublished("greetings", 1);
        AssertionError none = assertThrows(AssertionError.class, () -> brokers.assertPublished("farewells"));
        assertTrue(none.getMessage().contains("'farewells'"), none.getMessage());
        AssertionError two = assertThrows(AssertionError.class, () -> brokers.assertPublished("greetings", 2));
        assertTrue(two.getMessage().contains("Ada"), two.getMessage());
    }

    @Test
    void await_handled_waits_for_a_retried_message() {
        greeter.failOnce();
        broker.publish("greetings", Map.of("name", "Grace"));
        assertEquals(List.of(), greeter.greeted(), "the first delivery failed; the retry comes after retry-delay");
        brokers.awaitHandled("greetings");
        assertEquals(List.of("Grace"), greeter.greeted());
        AssertionError nobody = assertThrows(AssertionError.class, () -> brokers.awaitHandled("farewells"));
        assertTrue(nobody.getMessage().contains("no subscriber consumes stream 'farewells'"), nobody.getMessage());
    }
}
