package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerName;
import dev.courier.Brokers;
import dev.courier.BrokerConfigurationException;
import dev.courier.BrokerConfigurationException.Code;
import dev.courier.DeadLetterAlert;
import dev.courier.internal.engine.CourierEngine;
import dev.courier.engine.Engine;
import dev.courier.internal.engine.EngineSettings;
import dev.courier.internal.HealthSettings;
import dev.courier.internal.BrokerConfig;
import dev.courier.internal.ConfigValues;
import dev.courier.internal.Problems;
import dev.courier.spi.BrokerProvider;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.spi.AfterDeploymentValidation;
import jakarta.enterprise.inject.spi.BeanManager;
import jakarta.enterprise.inject.spi.BeforeBeanDiscovery;
import jakarta.enterprise.inject.spi.BeforeShutdown;
import jakarta.enterprise.inject.spi.DeploymentException;
import jakarta.enterprise.inject.spi.Extension;
import jakarta.enterprise.inject.spi.InjectionPoint;
import jakarta.enterprise.inject.spi.ProcessInjectionPoint;
import jakarta.enterprise.inject.spi.ProcessManagedBean;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Courier's CDI extension: builds the configured brokers when the application is deployed, finds the
 * {@link dev.courier.Subscribe @Subscribe} methods and builds the engine that runs them, reports every configuration
 * and subscriber problem at once as one deployment error, starts the engine when the application has started, and
 * stops it, then closes the brokers, when the application stops.
 */
public class CourierExtension implements Extension {

    private static final System.Logger LOG = System.getLogger("dev.courier");

    private final Map<String, InjectionPoint> namedInjectionPoints = new LinkedHashMap<>();
    private final SubscriberMethods subscribers = new SubscriberMethods();
    private volatile Brokers brokers;
    private volatile CourierEngine engine;

    /** Health checks, added where the application has MicroProfile Health. */
    private static final List<String> HEALTH_CHECKS = List.of("dev.courier.health.BrokerReadinessCheck",
            "dev.courier.health.LoopLivenessCheck", "dev.courier.health.EngineStartupCheck");
    private static final String HEALTH_API = "org.eclipse.microprofile.health.HealthCheck";

    void addBeans(@Observes BeforeBeanDiscovery event, BeanManager beanManager) {
        add(event, beanManager, BrokerProducers.class);
        add(event, beanManager, EngineLifecycle.class);
        if (present(HEALTH_API)) {
            for (String check : HEALTH_CHECKS) {
                try {
                    add(event, beanManager, Class.forName(check, true, CourierExtension.class.getClassLoader()));
                } catch (ClassNotFoundException e) {
                    throw new IllegalStateException("Courier jar is incomplete: " + check, e);
                }
            }
        }
    }

    private static void add(BeforeBeanDiscovery event, BeanManager beanManager, Class<?> type) {
        event.addAnnotatedType(beanManager.createAnnotatedType(type), type.getName());
    }

    private static boolean present(String className) {
        try {
            Class.forName(className, false, CourierExtension.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    void collectSubscribers(@Observes ProcessManagedBean<?> event) {
        subscribers.collect(event);
    }

    void collectNamedBrokers(@Observes ProcessInjectionPoint<?, ? extends Broker> event) {
        InjectionPoint point = event.getInjectionPoint();
        point.getQualifiers().stream()
                .filter(BrokerName.class::isInstance)
                .map(q -> ((BrokerName) q).value())
                .forEach(name -> namedInjectionPoints.putIfAbsent(name, point));
    }

    void buildBrokers(@Observes AfterDeploymentValidation event, BeanManager beanManager) {
        Problems problems = new Problems();
        Config config;
        try {
            config = ConfigProvider.getConfig();
        } catch (LinkageError | IllegalStateException e) {
            event.addDeploymentProblem(new DeploymentException("Courier needs MicroProfile Config "
                    + "(Open Liberty: feature mpConfig-3.1): " + e));
            return;
        }
        ConfigValues values = values(config);
        EngineSettings settings = BrokerConfig.engineSettings(values, problems);
        if (present(HEALTH_API)) {
            try {
                HealthSettings.stuckAfter(config);
            } catch (BrokerConfigurationException e) {
                problems.add(e);
            }
        }
        Map<String, BrokerProvider> providers = providers(beanManager, problems);
        BrokerConfig brokerConfig = new BrokerConfig(values, providers, settings.consumerName(), problems);
        Brokers built = brokerConfig.build();
        Set<String> configured = built != null ? built.names() : brokerConfig.brokerNames();
        namedInjectionPoints.forEach((name, point) -> {
            if (built != null && !configured.contains(name)) {
                problems.add(Code.UNKNOWN_BROKER, "@BrokerName(\"" + name + "\") at " + describe(point),
                        "no broker named '" + name + "' is configured (brokers." + name + ".provider); configured "
                        + "brokers: " + configured);
            }
        });
        // After the brokers, so that a subscriber's broker is checked for what it can do, not only for its name.
        List<dev.courier.internal.engine.Subscription> subscriptions =
                subscribers.validate(configured, built, beanManager, problems);
        CourierEngine created = null;
        if (problems.isEmpty()) {
            try {
                created = CourierEngine.create(settings, built, subscriptions);
            } catch (IllegalStateException e) {
                problems.add(Code.INVALID_SUBSCRIBER, null, e.getMessage());
            }
        }
        if (!problems.isEmpty()) {
            if (built != null) {
                built.closeAll();
            }
            // The friendly list in the message; each problem, with its code and property, attached as suppressed.
            event.addDeploymentProblem(problems.attachTo(new DeploymentException(problems.message())));
            return;
        }
        created.onDeadLetterAlert(alert -> fire(beanManager, alert));
        engine = created;
        brokers = created.brokers();
        LOG.log(Level.INFO, () -> "Courier brokers ready: " + describe(built));
    }

    /** The application's MicroProfile Config, as the settings are read from it. */
    private static ConfigValues values(Config config) {
        return new ConfigValues() {
            @Override
            public java.util.List<Source> sources() {
                List<Source> sources = new ArrayList<>();
                for (org.eclipse.microprofile.config.spi.ConfigSource source : config.getConfigSources()) {
                    sources.add(new Source(source.getName(), source.getPropertyNames()));
                }
                return sources;
            }

            @Override
            public java.util.Optional<String> value(String property) {
                return config.getOptionalValue(property, String.class);
            }
        };
    }

    /**
     * Fires a dead-letter alert as a CDI event, through the application's bean manager where the container gives
     * it: on some servers the extension's own does not see the observers in WEB-INF/classes.
     */
    private static void fire(BeanManager deployment, DeadLetterAlert alert) {
        BeanManager target = deployment;
        try {
            target = jakarta.enterprise.inject.spi.CDI.current().getBeanManager();
        } catch (RuntimeException e) {
            // No CDI.current() on this thread: the deployment's bean manager it is.
        }
        target.getEvent().select(DeadLetterAlert.class).fire(alert);
    }

    /** Starts the engine's loops; called once the application has started. */
    void startEngine() {
        CourierEngine current = engine;
        if (current != null) {
            current.start();
        }
    }

    /** Stops the engine's loops, letting running handlers finish; called when the application stops. */
    void stopEngine() {
        CourierEngine current = engine;
        if (current != null) {
            current.stop();
        }
    }

    void closeBrokers(@Observes BeforeShutdown event) {
        // Normally stopped already, at @BeforeDestroyed(ApplicationScoped.class); never close brokers under a loop.
        stopEngine();
        Brokers current = brokers;
        brokers = null;
        if (current != null) {
            try {
                current.closeAll();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "closing Courier brokers failed: " + e.getClass().getName(), e);
            }
        }
    }

    /** The brokers built at deployment. */
    Brokers brokers() {
        Brokers current = brokers;
        if (current == null) {
            throw new IllegalStateException("Courier brokers are not available: the deployment failed or stopped");
        }
        return current;
    }

    /** The engine built at deployment. */
    Engine engine() {
        CourierEngine current = engine;
        if (current == null) {
            throw new IllegalStateException("the Courier engine is not available: the deployment failed");
        }
        return current;
    }

    /** Providers by name: those ServiceLoader finds, then those that are CDI beans. */
    private static Map<String, BrokerProvider> providers(BeanManager beanManager, Problems problems) {
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        return BrokerConfig.providers(loader != null ? loader : CourierExtension.class.getClassLoader(),
                beanManager.createInstance().select(BrokerProvider.class), problems);
    }

    private static String describe(InjectionPoint point) {
        return point.getMember().getDeclaringClass().getName() + "." + point.getMember().getName();
    }

    private static String describe(Brokers brokers) {
        StringBuilder text = new StringBuilder();
        for (String name : brokers.names()) {
            Broker broker = brokers.get(name);
            text.append(text.length() == 0 ? "" : ", ").append(name).append(" (").append(broker.provider())
                    .append(", ").append(broker.tier()).append(')');
        }
        return text.toString();
    }
}
