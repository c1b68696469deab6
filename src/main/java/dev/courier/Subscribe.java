package dev.courier;

import java.lang.annotation.Documented;
import java.lang.annotation.Retention;
import java.lang.annotation.Target;
import java.time.temporal.ChronoUnit;

import static java.lang.annotation.ElementType.PARAMETER;
import static java.lang.annotation.RetentionPolicy.RUNTIME;

/**
 * Marks the parameter of a bean method that receives the messages of a stream, in the way {@code @Observes} marks
 * an observer's event parameter. Courier's engine reads the stream through a consumer group and calls the method for
 * each message whose type matches; the method's other parameters are injected as for an observer method.
 *
 * <pre>{@code
 * // brokers.default.provider=inline
 * public record UserRegistered(String user_id, String email) { }
 *
 * @ApplicationScoped
 * public class UserEventSubscriber {
 *     void sendWelcomeEmail(@Subscribe(stream = "user-events", type = "user.registered") UserRegistered event,
 *                           Mailer mailer) {                       // injected, as for CDI observers
 *         mailer.welcome(event.email());
 *     }
 *
 *     void audit(@Subscribe(stream = "user-events") Map<String, Object> anyEvent) {   // every type
 *         System.out.println("user event: " + anyEvent);
 *     }
 * }
 *
 * brokers.publish("user-events", Map.of("event_type", "user.registered", "user_id", "123",
 *                                       "email", "user@example.com"));
 * }</pre>
 *
 * <p>The parameter may be a {@link Message} (id, stream, payload, delivery count), a {@code Map<String, Object>}
 * (the payload), a {@code String} (the payload as JSON text), or any class or record that JSON-B binds from the
 * payload. A payload that cannot be bound goes to the stream's dead-letter queue at once, with the binding error as
 * reason.
 *
 * <p>A method that returns normally acknowledges the message; one that throws rejects it, and the broker delivers it
 * again after its retry delay, dead-lettering it after {@code max-retries}. Handlers run with a request context
 * active. Delivery is at least once: a handler may see a message again after a failure or a crash.
 *
 * <p>Methods of one bean on one stream share one consumer group, by default the bean class's name, so instances of
 * one application share the work and each message reaches each matching method once per group. A message that no
 * method's {@link #type()} matches is acknowledged and skipped. Mistakes (an empty stream, an unknown broker, a broker
 * without consumer groups, a type that cannot be bound, {@code @Subscribe} on two parameters) fail the deployment.
 */
@Documented
@Retention(RUNTIME)
@Target(PARAMETER)
public @interface Subscribe {

    /** The stream to consume. */
    String stream();

    /**
     * The message type this method handles, compared with {@link Message#type()} (the payload's {@code event_type},
     * else its {@code type}); empty, the default, handles every message of the stream.
     */
    String type() default "";

    /** The name of the broker to consume from ({@code brokers.<name>.provider}). */
    String broker() default Brokers.DEFAULT;

    /** The consumer group; empty, the default, means the fully qualified name of the bean's class. */
    String group() default "";

    /**
     * A circuit breaker for this subscriber's consumer group; off by default. Methods that share a group (the
     * methods of one bean on one stream) must declare the same one.
     */
    CircuitBreaker circuitBreaker() default @CircuitBreaker;

    /**
     * How many messages of this subscriber's consumer group are handled at once, each on a worker thread (a managed
     * thread on a server); 0, the default, takes {@code courier.engine.concurrency} (1). At 1 messages are handled
     * one at a time, in stream order, whatever the {@link #ordering()}. Configuration overrides it:
     * {@code courier.subscribers.<group>.concurrency}.
     */
    int concurrency() default 0;

    /**
     * Which messages wait for which when {@link #concurrency()} is above 1; {@link Ordering#KEY KEY} by default.
     * Configuration overrides it: {@code courier.subscribers.<group>.ordering}.
     */
    Ordering ordering() default Ordering.KEY;

    /**
     * Under {@link Ordering#KEY}, the payload field (in a Protean message, the field of its {@code data}) whose value
     * is the key; empty, the default, takes a Protean message's stream ({@code metadata.headers.stream}, one per
     * aggregate). A message without the key is its own key: it waits for no other. Configuration overrides it:
     * {@code courier.subscribers.<group>.key}.
     */
    String key() default "";

    /**
     * The most messages the group's loop holds at once: running, or read and waiting for a worker or for an earlier
     * message of their key; 0, the default, means four times the concurrency (at least twice {@code batch-size}).
     * When it is full the loop stops reading. Configuration overrides it:
     * {@code courier.subscribers.<group>.max-in-flight}.
     */
    int maxInFlight() default 0;

    /** What a message waits for, when handlers run at once. */
    enum Ordering {
        /** One at a time, in stream order: concurrency is 1, whatever is declared. */
        STREAM,
        /**
         * Messages with the same {@link #key() key} one at a time, in stream order, through retries: a failing
         * message holds back the later ones of its key until it succeeds or is dead-lettered; other keys go on.
         */
        KEY,
        /** Fully parallel; a failure holds nothing back. */
        NONE
    }

    /**
     * Stops consuming for a while after consecutive failures, so that a failing dependency does not empty the stream
     * into the dead-letter queue. After {@link #failures()} failures in a row the circuit opens: the message that
     * failed last and the rest of its batch are held unacknowledged (no retry spent, no delivery count raised),
     * nothing is read and nothing pending is claimed. After {@link #delay()} one held message is handled as a probe
     * (half-open): success closes the circuit and consumption resumes; failure opens it again.
     *
     * <pre>{@code
     * void onOrder(@Subscribe(stream = "orders", circuitBreaker = @Subscribe.CircuitBreaker(failures = 5,
     *         delay = 30, delayUnit = ChronoUnit.SECONDS, skipOn = InvalidOrder.class)) Order order) {
     *     database.save(order);   // while the database is down, the loop waits instead of dead-lettering
     * }
     * }</pre>
     *
     * <p>Keep {@code delay} well below the broker's {@code message-timeout}: held messages count against it, and a
     * broker gives a message held longer to another consumer (redis) or dead-letters it (inline).
     */
    @Documented
    @Retention(RUNTIME)
    @Target({})
    @interface CircuitBreaker {

        /** The consecutive failures that open the circuit; 0, the default, turns the breaker off. */
        int failures() default 0;

        /** How long the circuit stays open before a probe, in {@link #delayUnit()}. */
        long delay() default 30;

        ChronoUnit delayUnit() default ChronoUnit.SECONDS;

        /**
         * Exceptions that say nothing about a dependency (a bad message): the message is rejected as usual, and the
         * breaker counts it as a success, as MicroProfile Fault Tolerance's {@code skipOn}.
         */
        Class<? extends Throwable>[] skipOn() default {};
    }
}
