package dev.courier.examples.starter;

import dev.courier.cdi.CourierExtension;
import dev.courier.testkit.CourierTest;
import dev.courier.testkit.TestBrokers;
import jakarta.inject.Inject;
import org.jboss.weld.junit5.auto.AddBeanClasses;
import org.jboss.weld.junit5.auto.AddExtensions;
import org.jboss.weld.junit5.auto.EnableAutoWeld;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The application in Weld with Courier's extension, on an inline broker in sync mode (Courier's test kit): a
 * greeting requested through the resource is published, and handled by the time the request returns.
 */
@CourierTest
@EnableAutoWeld
@AddExtensions(CourierExtension.class)
@AddBeanClasses({GreetingResource.class, GreetingSubscriber.class, Greetings.class})
class GreetingTest {

    @Inject
    GreetingResource resource;

    TestBrokers brokers = TestBrokers.fromCdi();

    @Test
    void a_requested_greeting_is_published_and_made() {
        String id = resource.request(new Greeting("Ada")).get("id");
        assertEquals(id, brokers.assertPublished("greetings", 1).get(0).id());
        assertEquals(List.of("Hello, Ada!"), resource.made());      // sync mode: made before request returned
    }
}
