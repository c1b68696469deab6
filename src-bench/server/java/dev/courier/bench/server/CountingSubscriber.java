package dev.courier.bench.server;

import dev.courier.Message;
import dev.courier.Subscribe;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.concurrent.atomic.LongAdder;

/**
 * The in-server benchmark's handler: it only counts, so that the figure is Courier's and the server's cost per
 * message, as the Java SE engine's no-op handler is in the rest of the benchmark. Its group is its class name.
 */
@ApplicationScoped
public class CountingSubscriber {

    private final LongAdder handled = new LongAdder();

    void count(@Subscribe(stream = "bench-server") Message message) {
        handled.increment();
    }
}
