package dev.courier.se;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.BrokerConfigurationException;
import dev.courier.BrokerConfigurationException.Code;
import dev.courier.Brokers;
import dev.courier.internal.engine.CourierEngine;
import dev.courier.engine.Engine;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.internal.engine.Subscription;
import dev.courier.internal.HealthSettings;
import dev.courier.internal.BrokerConfig;
import dev.courier.internal.ConfigValues;
import dev.courier.internal.CourierOptions;
import dev.courier.internal.Options;
import dev.courier.internal.Problems;
import dev.courier.spi.BrokerProvider;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Courier's engine and brokers in a plain Java SE application, without CDI: the brokers and engine settings come
 * from the configuration (MicroProfile Config where an implementation is present, else system properties,
 * environment variables and {@code META-INF/microprofile-config.properties}, with the same keys), the subscribers
 * from the builder.
 *
 * <pre>{@code
 * record OrderPlaced(String order_id) { }
 *
 * try (CourierRunner courier = CourierRunner.builder()
 *         .subscribe("orders", "order-mailer", OrderPlaced.class, order -> mail(order.order_id()))
 *         .build()
 *         .start()) {
 *     courier.brokers().publish("orders", Map.of("event_type", "order.placed", "order_id", "42"));
 *     ...
 * }
 * }</pre>
 *
 * <p>{@link #start()} starts the consumption loops and, when {@code courier.se.health-port} is not {@code -1}, the health
 * endpoints; {@link #stop()} stops the loops (running handlers may finish within
 * {@code courier.engine.shutdown-timeout}), the endpoints and the brokers. {@link Main} runs an application's CDI
 * subscribers the same way.
 */
public final class CourierRunner implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("dev.courier.se");

    /** The port of the health endpoints: {@link #DEFAULT_HEALTH_PORT} by default, 0 any free one, -1 none. */
    public static final String HEALTH_PORT = CourierOptions.courierProperty(CourierOptions.SE_HEALTH_PORT);
    /** The default port of the health endpoints. */
    public static final int DEFAULT_HEALTH_PORT = Integer.parseInt(CourierOptions.SE_HEALTH_PORT.defaultValue());

    private final CourierEngine engine;
    private final Brokers brokers;
    private final int healthPort;
    private final Duration stuckAfter;
    private final AtomicBoolean stopped = new AtomicBoolean();
    private volatile HealthServer health;

    private CourierRunner(CourierEngine engine, Brokers brokers, int healthPort, Duration stuckAfter) {
        this.engine = engine;
        this.brokers = brokers;
        this.healthPort = healthPort;
        this.stuckAfter = stuckAfter;
    }

    /** A builder that reads the application's configuration. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts the consumption loops, then the health endpoints.
     *
     * @return this runner
     * @throws UncheckedIOException the health port cannot be bound (the engine is stopped again)
     */
    public CourierRunner start() {
        engine.start();
        if (healthPort >= 0 && health == null) {
            try {
                health = HealthServer.start(new InetSocketAddress(healthPort), engine.brokers(), engine, stuckAfter);
            } catch (IOException e) {
                stop();
                throw new UncheckedIOException(HEALTH_PORT + ": cannot serve health on port " + healthPort + ": "
                        + e.getMessage(), e);
            }
            LOG.log(Level.INFO, "Courier health on http://localhost:{0,number,#}/health",
                    health.address().getPort());
        }
        return this;
    }

    /** Stops this runner when the JVM is asked to stop (SIGTERM, SIGINT, {@code System.exit}). */
    public CourierRunner stopOnShutdown() {
        Runtime.getRuntime().addShutdownHook(new Thread(this::stop, "courier-shutdown"));
        return this;
    }

    /**
     * The brokers, for publishing: in sync mode its {@code inline} brokers run the subscribers before
     * {@code publish} returns.
     */
    public Brokers brokers() {
        return brokers;
    }

    /** The engine's status. */
    public Engine engine() {
        return engine;
    }

    /** Where the health endpoints listen, once started (empty when {@code courier.se.health-port} is -1). */
    public Optional<InetSocketAddress> healthAddress() {
        HealthServer current = health;
        return current == null ? Optional.empty() : Optional.of(current.address());
    }

    /**
     * Stops the health endpoints and the loops, letting running handlers finish within
     * {@code courier.engine.shutdown-timeout} (messages not handled stay unacknowledged, for redelivery), then
     * closes the brokers. Idempotent.
     */
    public void stop() {
        if (!stopped.compareAndSet(false, true)) {
            return;
        }
        HealthServer current = health;
        if (current != null) {
            current.stop();
        }
        engine.stop();
        brokers.closeAll();
    }

    @Override
    public void close() {
        stop();
    }

    /** Calls a subscriber with the message bound to its type; what it throws rejects the message. */
    @FunctionalInterface
    public interface Handler<T> {
        /**
         * Handles one message.
         *
         * @param message the message, bound to the subscribed type
         * @throws Exception to reject the message: it is delivered again after the broker's retry delay
         */
        void handle(T message) throws Exception;
    }

    /** Builds a {@link CourierRunner}; see there. */
    public static final class Builder {

        private final Map<String, String> properties = new LinkedHashMap<>();
        private final Map<String, Broker> brokers = new LinkedHashMap<>();
        private final List<Subscription> subscriptions = new ArrayList<>();
        private ClassLoader loader = CourierRunner.class.getClassLoader();

        private Builder() {
        }

        /** Sets a configuration property, above every other source ({@code courier.engine.mode=sync}, say). */
        public Builder property(String key, String value) {
            properties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Uses this broker instead of configured ones: once one is given, {@code brokers.*} is not read, and one of
         * the brokers given must be named {@code default}.
         */
        public Builder broker(String name, Broker broker) {
            brokers.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(broker, "broker"));
            return this;
        }

        /**
         * Subscribes a handler to every message of a stream on the default broker.
         *
         * @param stream the stream
         * @param group  the consumer group: instances of one application share the messages of one group
         * @param type   what the message is bound to: {@code Message}, {@code String} (the JSON text), or a class
         *               or record (JSON-B)
         */
        public <T> Builder subscribe(String stream, String group, Class<T> type, Handler<? super T> handler) {
            return subscribe(Brokers.DEFAULT, stream, group, type, handler);
        }

        /** As {@link #subscribe(String, String, Class, Handler)}, on the broker of that name. */
        public <T> Builder subscribe(String broker, String stream, String group, Class<T> type,
                                     Handler<? super T> handler) {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(handler, "handler");
            subscriptions.add(new Subscription(broker, stream, group, "", type,
                    group + " on " + stream + " (" + type.getSimpleName() + ")",
                    argument -> handler.handle(type.cast(argument))));
            return this;
        }

        /** The class loader that finds broker providers and configuration files (by default Courier's). */
        public Builder classLoader(ClassLoader classLoader) {
            loader = Objects.requireNonNull(classLoader, "classLoader");
            return this;
        }

        /**
         * Reads the configuration and builds the brokers and the engine (not started).
         *
         * @throws IllegalStateException the configuration or a subscription is wrong: its message lists every
         *                               problem, each naming the property or subscription at fault and ending with
         *                               its code; each is attached as a suppressed
         *                               {@link BrokerConfigurationException} with its code and property, as the CDI
         *                               extension's deployment error has them
         */
        public CourierRunner build() {
            ConfigValues config = SeConfig.load(properties, loader);
            Problems problems = new Problems();
            EngineSettings settings = BrokerConfig.engineSettings(config, problems);
            Duration stuckAfter = HealthSettings.DEFAULT_STUCK_AFTER;
            try {
                stuckAfter = HealthSettings.stuckAfter(config.value(HealthSettings.PREFIX
                        + HealthSettings.STUCK_AFTER));
            } catch (BrokerConfigurationException e) {
                problems.add(e);
            }
            int port = healthPort(config, problems);
            Brokers built = null;
            if (!brokers.isEmpty()) {
                if (!brokers.containsKey(Brokers.DEFAULT)) {
                    problems.add(Code.MISSING_DEFAULT_BROKER, null, "no broker named 'default' was given; brokers "
                            + "given: " + brokers.keySet());
                } else {
                    built = new Brokers(brokers);
                }
            } else {
                // Even after a problem, as the CDI extension does, so that every problem is reported at once.
                Map<String, BrokerProvider> providers = BrokerConfig.providers(loader, List.of(), problems);
                built = new BrokerConfig(config, providers, settings.consumerName(), problems).build();
            }
            if (built != null) {
                check(built, problems);
            }
            CourierEngine engine = null;
            if (problems.isEmpty()) {
                try {
                    engine = CourierEngine.create(settings, built, subscriptions);
                } catch (IllegalStateException e) {
                    problems.add(Code.INVALID_SUBSCRIBER, null, e.getMessage());
                }
            }
            if (!problems.isEmpty()) {
                if (built != null && brokers.isEmpty()) {
                    built.closeAll();
                }
                // As Courier's CDI extension reports them: the list, and each problem attached as suppressed.
                throw problems.attachTo(new IllegalStateException(problems.message()));
            }
            return new CourierRunner(engine, engine.brokers(), port, stuckAfter);
        }

        /** The configured health port, for {@link Main}'s CDI application. */
        int healthPort() {
            Problems problems = new Problems();
            int port = healthPort(SeConfig.load(properties, loader), problems);
            if (!problems.isEmpty()) {
                throw problems.attachTo(new IllegalStateException(problems.message()));
            }
            return port;
        }

        private static int healthPort(ConfigValues config, Problems problems) {
            Map<String, String> values = new LinkedHashMap<>();
            config.value(HEALTH_PORT).ifPresent(value -> values.put(CourierOptions.SE_HEALTH_PORT.name(), value));
            try {
                return new Options("courier.", values).getInt(CourierOptions.SE_HEALTH_PORT);
            } catch (BrokerConfigurationException e) {
                problems.add(e);
                return DEFAULT_HEALTH_PORT;
            }
        }

        private void check(Brokers built, Problems problems) {
            for (Subscription s : subscriptions) {
                if (!built.names().contains(s.broker())) {
                    problems.add(Code.UNKNOWN_BROKER, s.description(), "no broker named '" + s.broker()
                            + "'; brokers: " + built.names());
                    continue;
                }
                if (!built.get(s.broker()).hasCapability(BrokerCapability.CONSUMER_GROUPS)) {
                    problems.add(Code.INVALID_SUBSCRIBER, s.description(), "broker '" + s.broker()
                            + "' has no consumer groups");
                }
                if (s.stream().isBlank() || s.group().isBlank()) {
                    problems.add(Code.INVALID_SUBSCRIBER, s.description(), "the stream and the group must not be "
                            + "empty");
                }
                String binding = Subscription.bindingProblem(s.parameterType());
                if (binding != null) {
                    problems.add(Code.INVALID_SUBSCRIBER, s.description(), binding);
                }
            }
        }
    }
}
