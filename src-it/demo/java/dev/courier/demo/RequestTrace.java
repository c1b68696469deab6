package dev.courier.demo;

import jakarta.enterprise.context.RequestScoped;

import java.util.UUID;

/** One per request context: tells the handlings of {@link ParallelSubscriber} apart. */
@RequestScoped
public class RequestTrace {

    private final String id = UUID.randomUUID().toString();

    public String id() {
        return id;
    }
}
