package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.Subscribe;
import dev.courier.engine.LoopStatus;
import dev.courier.redis.RedisPubSubBrokerProvider;
import dev.courier.testing.Deployment;
import dev.courier.testing.Inspect;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import jakarta.enterprise.context.ApplicationScoped;
import org.junit.jupiter.api.Test;

import java.text.MessageFormat;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A subscriber on a {@code redis_pubsub} broker (Redis lists, no ACK_NACK): published messages reach it, and a
 * handler's failure is logged with the message's id; the message is not delivered again (at most once).
 */
@WithRedis
class RedisPubSubSubscriberTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    public record Notification(String to, String text, boolean fail) {
    }

    @ApplicationScoped
    static class Notifier {
        final List<Notification> attempts = new CopyOnWriteArrayList<>();
        final List<Notification> sent = new CopyOnWriteArrayList<>();

        void send(@Subscribe(stream = "notifications", broker = "notifications", type = "email")
                  Notification notification) {
            attempts.add(notification);
            if (notification.fail()) {
                throw new IllegalStateException("mail server refused " + notification.to());
            }
            sent.add(notification);
        }

        List<Notification> attempts() {
            return attempts;
        }

        List<Notification> sent() {
            return sent;
        }
    }

    @Test
    void a_published_message_reaches_the_handler_and_a_failure_is_logged_with_its_id(RedisServer redis) {
        List<String> logged = new CopyOnWriteArrayList<>();
        Logger logger = Logger.getLogger("dev.courier.engine");
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getLevel().intValue() >= Level.SEVERE.intValue()) {
                    logged.add(record.getParameters() == null ? record.getMessage()
                            : MessageFormat.format(record.getMessage(), record.getParameters()));
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(capture);
        try (Deployment app = Deployment.of(Map.of(
                "brokers.default.provider", "inline",
                "brokers.notifications.provider", RedisPubSubBrokerProvider.NAME,
                "brokers.notifications.uri", redis.uri()), Notifier.class)) {
            Notifier notifier = app.bean(Notifier.class);
            Broker notifications = app.broker("notifications");
            assertFalse(notifications.hasCapability(BrokerCapability.ACK_NACK));

            notifications.publish("notifications", Map.of("type", "email", "to", "a@example.com", "text", "hi",
                    "fail", false));
            await().atMost(WAIT).until(() -> notifier.sent().size() == 1);
            assertEquals(new Notification("a@example.com", "hi", false), notifier.sent().get(0));

            String failing = notifications.publish("notifications", Map.of("type", "email", "to", "b@example.com",
                    "text", "hello", "fail", true));
            notifications.publish("notifications", Map.of("type", "email", "to", "c@example.com", "text", "hey",
                    "fail", false));
            await().atMost(WAIT).until(() -> notifier.sent().size() == 2);

            assertEquals(List.of("a@example.com", "b@example.com", "c@example.com"),
                    notifier.attempts().stream().map(Notification::to).toList(), "the failed one is not delivered again");
            String group = Notifier.class.getName();
            LoopStatus loop = Inspect.loop(app.engine(), "notifications", group);
            assertEquals(2, loop.handled());
            assertEquals(1, loop.failed());
            assertEquals(LoopStatus.State.RUNNING, loop.state());
            assertTrue(logged.stream().anyMatch(text -> text.contains("failed on message " + failing)
                            && text.contains("no ACK_NACK")),
                    "the failure is logged with the message id " + failing + ": " + logged);
            System.out.println("redis_pubsub subscriber: the failure was logged as: " + logged.get(0));
        } finally {
            logger.removeHandler(capture);
        }
    }
}
