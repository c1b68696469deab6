package dev.courier.testkit;

import dev.courier.Broker;
import dev.courier.Message;
import dev.courier.se.CourierRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link CourierTest} in a Java SE test: an application configured for two Redis brokers runs both as inline
 * brokers in sync mode, and {@link TestBrokers#of} sees what was published.
 */
@CourierTest(inline = {"default", "payments"})
class RunnerTestKitTest {

    @TempDir
    Path application;

    @Test
    void configured_redis_brokers_run_inline_and_in_sync_mode() throws Exception {
        Files.createDirectories(application.resolve("META-INF"));
        Files.writeString(application.resolve("META-INF/microprofile-config.properties"), """
                brokers.default.provider=redis
                brokers.default.uri=redis://localhost:1/0
                brokers.payments.provider=redis
                brokers.payments.uri=redis://localhost:1/0
                """);
        List<Object> paid = new CopyOnWriteArrayList<>();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {application.toUri().toURL()},
                getClass().getClassLoader());
             CourierRunner runner = CourierRunner.builder().classLoader(loader)
                     .property(CourierRunner.HEALTH_PORT, "-1")
                     .subscribe("payments", "payments", "ledger", Message.class,
                             message -> paid.add(message.payload().get("amount")))
                     .build().start()) {
            Broker payments = runner.brokers().get("payments");
            assertEquals("inline", payments.provider());
            assertEquals("inline", runner.brokers().defaultBroker().provider());
            payments.publish("payments", Map.of("amount", 5));
            assertEquals(List.of(5), paid, "handled before publish returned");
            TestBrokers brokers = TestBrokers.of(runner.brokers(), runner.engine());
            assertEquals(List.of(Map.of("amount", 5)),
                    brokers.published("payments", "payments").stream().map(Message::payload).toList());
        }
    }
}
