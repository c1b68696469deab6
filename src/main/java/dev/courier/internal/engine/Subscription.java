package dev.courier.internal.engine;

import java.lang.reflect.Type;
import java.util.Objects;

/**
 * One subscriber method, as Courier's CDI extension hands it to the engine: where it consumes, what type of
 * argument it takes, and how to call it. The engine binds each message to {@code parameterType} and calls
 * {@code invoker} with it; the invoker supplies the bean, the other parameters and the request context.
 *
 * @param broker        the broker's name
 * @param stream        the stream
 * @param group         the consumer group (never empty)
 * @param type          the message type handled, or empty for every type
 * @param parameterType the declared type of the {@code @Subscribe} parameter
 * @param description   the method, for logs: {@code com.acme.Subscriber.onEvent(UserRegistered)}
 * @param invoker       calls the method with the bound argument
 * @param circuitBreaker the circuit breaker of its loop ({@link CircuitBreakerSettings#OFF} for none)
 * @param concurrency   how its loop runs handlers, as declared ({@link Concurrency#DEFAULT} for the defaults)
 */
public record Subscription(String broker, String stream, String group, String type, Type parameterType,
                           String description, Invoker invoker, CircuitBreakerSettings circuitBreaker,
                           Concurrency concurrency) {

    /** A subscription without a circuit breaker. */
    public Subscription(String broker, String stream, String group, String type, Type parameterType,
                        String description, Invoker invoker) {
        this(broker, stream, group, type, parameterType, description, invoker, CircuitBreakerSettings.OFF);
    }

    /** A subscription with the default concurrency. */
    public Subscription(String broker, String stream, String group, String type, Type parameterType,
                        String description, Invoker invoker, CircuitBreakerSettings circuitBreaker) {
        this(broker, stream, group, type, parameterType, description, invoker, circuitBreaker, Concurrency.DEFAULT);
    }

    public Subscription {
        Objects.requireNonNull(broker, "broker");
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(parameterType, "parameterType");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(invoker, "invoker");
        Objects.requireNonNull(circuitBreaker, "circuitBreaker");
        Objects.requireNonNull(concurrency, "concurrency");
    }

    /**
     * Why a message cannot be bound to a parameter of this type, or {@code null} when it can: a message is a JSON
     * object, so it binds to {@code Message}, {@code Map<String, Object>}, {@code String}, and to classes and records
     * that JSON-B can instantiate, never to primitives, arrays, interfaces, raw generic types and the like.
     */
    public static String bindingProblem(Type parameterType) {
        return PayloadBinder.problem(parameterType);
    }

    /** Calls a subscriber method. */
    @FunctionalInterface
    public interface Invoker {
        /** Calls the method with the bound message; what the method throws is thrown on. */
        void invoke(Object argument) throws Exception;
    }
}
