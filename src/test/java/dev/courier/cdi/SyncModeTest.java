package dev.courier.cdi;

import dev.courier.engine.EngineMode;
import dev.courier.Broker;
import dev.courier.Brokers;
import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import jakarta.enterprise.context.ApplicationScoped;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** courier.engine.mode=sync: a publish on an inline broker returns after the subscribers have run, in its thread. */
class SyncModeTest {

    @ApplicationScoped
    static class Audit {
        final List<String> seen = new CopyOnWriteArrayList<>();
        final List<String> threads = new CopyOnWriteArrayList<>();

        void first(@Subscribe(stream = "orders") Message order, Broker broker) {
            seen.add("order " + order.payload().get("n"));
            threads.add(Thread.currentThread().getName());
            broker.publish("invoices", Map.of("type", "invoice", "n", order.payload().get("n")));
        }

        void second(@Subscribe(stream = "invoices") Message invoice) {
            seen.add("invoice " + invoice.payload().get("n"));
            threads.add(Thread.currentThread().getName());
        }

        List<String> seen() {
            return seen;
        }

        List<String> threads() {
            return threads;
        }
    }

    @Test
    void the_handlers_have_run_in_the_publishing_thread_when_publish_returns() {
        try (Deployment app = Deployment.of(Deployment.inline("courier.engine.mode", "sync"), Audit.class)) {
            Audit audit = app.bean(Audit.class);
            Brokers brokers = app.bean(Brokers.class);
            assertEquals(EngineMode.SYNC, app.engine().status().mode());
            for (int n = 1; n <= 20; n++) {
                brokers.publish("orders", Map.of("type", "order", "n", n));
                // No waiting: the order's handler, and the invoice's it published, ran before publish returned.
                assertEquals(List.of("order " + n, "invoice " + n), audit.seen().subList(2 * n - 2, 2 * n));
            }
            String caller = Thread.currentThread().getName();
            assertEquals(List.of(caller), audit.threads().stream().distinct().toList());
            assertEquals(0, Inspect.inFlight(app.broker(), "orders", Audit.class.getName()), "acknowledged");
            assertEquals(20, Inspect.loop(app.engine(), "orders", Audit.class.getName()).handled());
        }
    }
}
