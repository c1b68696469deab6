package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerName;
import dev.courier.Brokers;
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
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * Courier's CDI extension: builds the configured brokers when the application is deployed, reports every
 * configuration problem at once as a deployment error, and closes the brokers when the application stops.
 */
public class CourierExtension implements Extension {

    private static final System.Logger LOG = System.getLogger("dev.courier");

    private final Map<String, InjectionPoint> namedInjectionPoints = new LinkedHashMap<>();
    private volatile Brokers brokers;

    /** Health checks, added where the application has MicroProfile Health. */
    private static final List<String> HEALTH_CHECKS = List.of("dev.courier.health.BrokerReadinessCheck");

    void addBeans(@Observes BeforeBeanDiscovery event, BeanManager beanManager) {
        add(event, beanManager, BrokerProducers.class);
        if (present("org.eclipse.microprofile.health.HealthCheck")) {
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

    void collectNamedBrokers(@Observes ProcessInjectionPoint<?, ? extends Broker> event) {
        InjectionPoint point = event.getInjectionPoint();
        point.getQualifiers().stream()
                .filter(BrokerName.class::isInstance)
                .map(q -> ((BrokerName) q).value())
                .forEach(name -> namedInjectionPoints.putIfAbsent(name, point));
    }

    void buildBrokers(@Observes AfterDeploymentValidation event, BeanManager beanManager) {
        List<String> problems = new ArrayList<>();
        Config config;
        try {
            config = ConfigProvider.getConfig();
        } catch (LinkageError | IllegalStateException e) {
            event.addDeploymentProblem(new DeploymentException("Courier needs MicroProfile Config "
                    + "(Open Liberty: feature mpConfig-3.1): " + e));
            return;
        }
        Map<String, BrokerProvider> providers = providers(beanManager, problems);
        BrokerConfig brokerConfig = new BrokerConfig(config, providers);
        Brokers built = brokerConfig.build();
        problems.addAll(brokerConfig.problems());
        if (built != null) {
            namedInjectionPoints.forEach((name, point) -> {
                if (!built.names().contains(name)) {
                    problems.add("@BrokerName(\"" + name + "\") at " + describe(point) + ": no broker named '"
                            + name + "' is configured (brokers." + name + ".provider); configured brokers: "
                            + built.names());
                }
            });
        }
        if (!problems.isEmpty()) {
            if (built != null) {
                built.closeAll();
            }
            event.addDeploymentProblem(new DeploymentException(
                    "Courier configuration is invalid:\n  - " + String.join("\n  - ", problems)));
            return;
        }
        brokers = built;
        LOG.log(Level.INFO, () -> "Courier brokers ready: " + describe(built));
    }

    void closeBrokers(@Observes BeforeShutdown event) {
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

    /** Providers by name: those ServiceLoader finds, then those that are CDI beans. */
    private static Map<String, BrokerProvider> providers(BeanManager beanManager, List<String> problems) {
        Map<String, BrokerProvider> providers = new TreeMap<>();
        List<BrokerProvider> found = new ArrayList<>();
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        try {
            ServiceLoader.load(BrokerProvider.class,
                    loader != null ? loader : CourierExtension.class.getClassLoader()).forEach(found::add);
        } catch (ServiceConfigurationError e) {
            problems.add("a broker provider listed in META-INF/services/" + BrokerProvider.class.getName()
                    + " cannot be loaded: " + e.getMessage());
        }
        beanManager.createInstance().select(BrokerProvider.class).forEach(found::add);
        for (BrokerProvider provider : found) {
            BrokerProvider other = providers.putIfAbsent(provider.name(), provider);
            if (other != null && !sameClass(other, provider)) {
                problems.add("two broker providers are named '" + provider.name() + "': "
                        + other.getClass().getName() + " and " + provider.getClass().getName());
            }
        }
        return providers;
    }

    private static boolean sameClass(BrokerProvider a, BrokerProvider b) {
        // A CDI bean may be a proxy (a subclass) of the class ServiceLoader found.
        return a.getClass().isAssignableFrom(b.getClass()) || b.getClass().isAssignableFrom(a.getClass());
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
