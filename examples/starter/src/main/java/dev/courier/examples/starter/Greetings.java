package dev.courier.examples.starter;

import jakarta.enterprise.context.ApplicationScoped;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** The greetings the subscriber has made, oldest first (in memory; an application would store them). */
@ApplicationScoped
public class Greetings {

    private final List<String> made = new CopyOnWriteArrayList<>();

    void add(String greeting) {
        made.add(greeting);
    }

    public List<String> all() {
        return List.copyOf(made);
    }
}
