package dev.courier.examples.starter;

import dev.courier.Subscribe;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Consumes the stream {@code greetings}: each {@code greeting.requested} message is bound to a {@link Greeting} and
 * handled here, on a consumption loop of Courier's engine. Returning acknowledges the message; throwing would have
 * it delivered again.
 */
@ApplicationScoped
public class GreetingSubscriber {

    void greet(@Subscribe(stream = "greetings", type = "greeting.requested") Greeting greeting, Greetings greetings) {
        greetings.add("Hello, " + greeting.name() + "!");
    }
}
