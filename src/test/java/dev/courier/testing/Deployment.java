package dev.courier.testing;

import dev.courier.Broker;
import dev.courier.BrokerName;
import dev.courier.cdi.CourierExtension;
import dev.courier.engine.Engine;
import org.jboss.weld.environment.se.Weld;
import org.jboss.weld.environment.se.WeldContainer;

import java.util.HashMap;
import java.util.Map;

/**
 * An application deployed in Weld SE with Courier's extension and the given configuration, as a server would deploy
 * it. Close it to stop the application (the engine stops, the brokers close) and release the configuration.
 */
public final class Deployment implements AutoCloseable {

    private final TestConfig config;
    private final WeldContainer container;

    private Deployment(TestConfig config, WeldContainer container) {
        this.config = config;
        this.container = container;
    }

    /** Deploys the beans with {@code brokers.default.provider=inline} and the given key-value pairs. */
    public static Deployment of(Map<String, String> properties, Class<?>... beans) {
        TestConfig config = TestConfig.of(properties);
        try {
            WeldContainer container = new Weld().disableDiscovery().addExtension(new CourierExtension())
                    .addBeanClasses(beans).initialize();
            return new Deployment(config, container);
        } catch (RuntimeException e) {
            config.close();
            throw e;
        }
    }

    /** {@code brokers.default.provider=inline} plus the given key-value pairs. */
    public static Map<String, String> inline(String... keysAndValues) {
        Map<String, String> properties = new HashMap<>(Map.of("brokers.default.provider", "inline"));
        for (int i = 0; i < keysAndValues.length; i += 2) {
            properties.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return properties;
    }

    public <T> T bean(Class<T> type) {
        return container.select(type).get();
    }

    public Broker broker() {
        return bean(Broker.class);
    }

    public Broker broker(String name) {
        return container.select(Broker.class, BrokerName.Literal.of(name)).get();
    }

    public Engine engine() {
        return bean(Engine.class);
    }

    /** Stops the application: @BeforeDestroyed(ApplicationScoped), then BeforeShutdown. */
    @Override
    public void close() {
        try {
            if (container.isRunning()) {
                container.shutdown();
            }
        } finally {
            config.close();
        }
    }
}
