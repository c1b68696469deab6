package dev.courier.examples.starter;

/**
 * What the subscriber binds a message to: {@code {"event_type": "greeting.requested", "name": "Ada"}} gives
 * {@code Greeting("Ada")} (JSON-B ignores the fields the record does not have).
 */
public record Greeting(String name) {
}
