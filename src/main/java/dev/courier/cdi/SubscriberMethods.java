package dev.courier.cdi;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.BrokerConfigurationException.Code;
import dev.courier.Brokers;
import dev.courier.Subscribe;
import dev.courier.internal.Problems;
import dev.courier.internal.engine.CircuitBreakerSettings;
import dev.courier.internal.engine.Subscription;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Dependent;
import jakarta.enterprise.context.spi.Context;
import jakarta.enterprise.context.spi.Contextual;
import jakarta.enterprise.context.spi.CreationalContext;
import jakarta.enterprise.inject.spi.AnnotatedMethod;
import jakarta.enterprise.inject.spi.AnnotatedParameter;
import jakarta.enterprise.inject.spi.Bean;
import jakarta.enterprise.inject.spi.BeanManager;
import jakarta.enterprise.inject.spi.InjectionPoint;
import jakarta.enterprise.inject.spi.ProcessManagedBean;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The {@code @Subscribe} methods of the application's beans: found as the beans are processed, checked once the
 * brokers are built (every problem collected, each naming the method and the fix), and turned into the engine's
 * {@link Subscription}s, whose invokers do the CDI part: the bean instance, the injected parameters, the request
 * context.
 */
final class SubscriberMethods {

    /** What a broker needs to serve a subscriber: reads, and consumer groups to read as. */
    static final Set<BrokerCapability> REQUIRED = EnumSet.of(BrokerCapability.SUBSCRIBE,
            BrokerCapability.CONSUMER_GROUPS);

    private record Found(Bean<?> bean, AnnotatedMethod<?> method) {
    }

    private static final Code INVALID = Code.INVALID_SUBSCRIBER;

    private final List<Found> found = new ArrayList<>();

    void collect(ProcessManagedBean<?> event) {
        for (AnnotatedMethod<?> method : event.getAnnotatedBeanClass().getMethods()) {
            if (method.getParameters().stream().anyMatch(p -> p.isAnnotationPresent(Subscribe.class))) {
                found.add(new Found(event.getBean(), method));
            }
        }
    }

    boolean isEmpty() {
        return found.isEmpty();
    }

    /**
     * Checks every subscriber method and returns those without problems as subscriptions.
     *
     * @param configured the configured broker names
     * @param brokers    the built brokers, or {@code null} when building them failed (capabilities are then not
     *                   checked)
     */
    List<Subscription> validate(Set<String> configured, Brokers brokers, BeanManager beanManager,
                                Problems problems) {
        List<Subscription> subscriptions = new ArrayList<>();
        for (Found f : found) {
            String where = "subscriber " + describe(f.bean, f.method);
            List<AnnotatedParameter<?>> marked = f.method.getParameters().stream()
                    .filter(p -> p.isAnnotationPresent(Subscribe.class)).collect(Collectors.toList());
            if (marked.size() != 1) {
                problems.add(INVALID, where, "@Subscribe is on " + marked.size() + " parameters (" + marked.stream()
                        .map(p -> "#" + p.getPosition()).collect(Collectors.joining(", ")) + "); put it on exactly "
                        + "one, the parameter that receives the message; the others are injected");
                continue;
            }
            AnnotatedParameter<?> parameter = marked.get(0);
            Subscribe subscribe = parameter.getAnnotation(Subscribe.class);
            int before = problems.size();
            if (subscribe.stream().isBlank()) {
                problems.add(INVALID, where, "@Subscribe names no stream; give the stream to consume, such as "
                        + "@Subscribe(stream = \"user-events\")");
            }
            if (!configured.contains(subscribe.broker())) {
                problems.add(Code.UNKNOWN_BROKER, where, "@Subscribe(broker = \"" + subscribe.broker()
                        + "\"): no broker named '" + subscribe.broker() + "' is configured; configured brokers: "
                        + configured + "; name one of them or configure brokers." + subscribe.broker() + ".provider");
            } else if (brokers != null) {
                Broker broker = brokers.get(subscribe.broker());
                if (!broker.hasAllCapabilities(REQUIRED)) {
                    Set<BrokerCapability> missing = EnumSet.copyOf(REQUIRED);
                    missing.removeAll(broker.capabilities());
                    problems.add(INVALID, where, "broker '" + broker.name() + "' (provider '" + broker.provider()
                            + "') cannot serve a subscriber: it lacks " + missing + "; a subscriber needs "
                            + REQUIRED + " (tier SIMPLE_QUEUING or higher, as inline and redis have); subscribe "
                            + "through such a broker");
                }
            }
            String bindingProblem = Subscription.bindingProblem(parameter.getBaseType());
            if (bindingProblem != null) {
                problems.add(INVALID, where, "the @Subscribe parameter cannot receive a message: " + bindingProblem
                        + "; declare it as Message, Map<String, Object>, String, or a class or record that JSON-B "
                        + "can bind");
            }
            // The extension's bean manager belongs to the Courier jar's archive; on Payara it does not see the
            // beans of WEB-INF/classes. Where it cannot resolve a parameter, the application's may.
            BeanManager resolver = beanManager;
            Problems injectionProblems = new Problems();
            InjectionPoint[] injected = injectionPoints(f, parameter, beanManager, where, injectionProblems);
            if (!injectionProblems.isEmpty()) {
                BeanManager application = applicationBeanManager();
                if (application != null && application != beanManager) {
                    Problems again = new Problems();
                    InjectionPoint[] retried = injectionPoints(f, parameter, application, where, again);
                    if (again.isEmpty()) {
                        resolver = application;
                        injected = retried;
                        injectionProblems = again;
                    }
                }
            }
            injectionProblems.all().forEach(problems::add);
            CircuitBreakerSettings breaker = circuitBreaker(subscribe.circuitBreaker(), where, problems);
            dev.courier.internal.engine.Concurrency concurrency = dev.courier.internal.engine.Concurrency.DEFAULT;
            try {
                concurrency = new dev.courier.internal.engine.Concurrency(subscribe.concurrency(), subscribe.ordering(),
                        subscribe.key(), subscribe.maxInFlight());
            } catch (IllegalArgumentException e) {
                problems.add(INVALID, where, "@Subscribe: " + e.getMessage());
            }
            if (problems.size() > before) {
                continue;
            }
            String group = subscribe.group().isEmpty() ? f.bean.getBeanClass().getName() : subscribe.group();
            subscriptions.add(new Subscription(subscribe.broker(), subscribe.stream(), group, subscribe.type(),
                    parameter.getBaseType(), describe(f.bean, f.method),
                    new MethodInvoker(resolver, f.bean, f.method.getJavaMember(), parameter.getPosition(),
                            injected, describe(f.bean, f.method)), breaker, concurrency));
        }
        return subscriptions;
    }

    /** The declared circuit breaker, or OFF with a problem added. */
    private static CircuitBreakerSettings circuitBreaker(Subscribe.CircuitBreaker declared, String where,
                                                         Problems problems) {
        if (declared.failures() == 0) {
            return CircuitBreakerSettings.OFF;
        }
        String problem;
        if (declared.failures() < 0) {
            problem = "failures = " + declared.failures() + " is negative; use 0 (off) or more";
        } else if (declared.delay() <= 0) {
            problem = "delay = " + declared.delay() + " must be positive";
        } else {
            try {
                return new CircuitBreakerSettings(declared.failures(),
                        java.time.Duration.of(declared.delay(), declared.delayUnit()), List.of(declared.skipOn()));
            } catch (ArithmeticException | java.time.temporal.UnsupportedTemporalTypeException e) {
                problem = "delay = " + declared.delay() + " " + declared.delayUnit() + " is not an exact duration; "
                        + "use a unit from NANOS to DAYS";
            }
        }
        problems.add(INVALID, where, "@Subscribe(circuitBreaker = ...): " + problem);
        return CircuitBreakerSettings.OFF;
    }

    /** Injection points for the parameters other than the message's, each validated; problems are added. */
    private static InjectionPoint[] injectionPoints(Found f, AnnotatedParameter<?> message, BeanManager beanManager,
                                                    String where, Problems problems) {
        InjectionPoint[] injected = new InjectionPoint[f.method.getParameters().size()];
        for (AnnotatedParameter<?> other : f.method.getParameters()) {
            if (other == message) {
                continue;
            }
            try {
                InjectionPoint point = beanManager.createInjectionPoint(other);
                beanManager.validate(point);
                injected[other.getPosition()] = point;
            } catch (RuntimeException e) {
                problems.add(INVALID, where, "parameter #" + other.getPosition() + " (" + typeName(other) + ") "
                        + "cannot be injected: " + e.getMessage() + "; make exactly one bean of that type and "
                        + "those qualifiers available, or mark the message parameter alone with @Subscribe");
            }
        }
        return injected;
    }

    /** The application's bean manager, where the container gives it ({@code CDI.current()}), else {@code null}. */
    private static BeanManager applicationBeanManager() {
        try {
            return jakarta.enterprise.inject.spi.CDI.current().getBeanManager();
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String describe(Bean<?> bean, AnnotatedMethod<?> method) {
        return bean.getBeanClass().getName() + "." + method.getJavaMember().getName() + "("
                + method.getParameters().stream().map(SubscriberMethods::typeName).collect(Collectors.joining(", "))
                + ")";
    }

    private static String typeName(AnnotatedParameter<?> parameter) {
        return parameter.getBaseType().getTypeName().replaceAll("\\b[a-z][\\w]*\\.", "").replace('$', '.');
    }

    /**
     * Calls a subscriber method as CDI calls an observer method: each call in a request context of its own, with the
     * {@code @Dependent} objects made for it destroyed after it. What does not change from call to call is looked up
     * once: the request context ({@link RequestContexts}), the client proxies of normal-scoped parameters, and an
     * application-scoped bean's instance. The lookups are made at the first call, when the container is running.
     * Where nothing {@code @Dependent} can be made for a call (a normal-scoped or static method, only normal-scoped
     * parameters besides the message), no {@code CreationalContext} is made for it.
     */
    private static final class MethodInvoker implements Subscription.Invoker {
        private final BeanManager beanManager;
        private final Bean<?> bean;
        private final Method method;
        private final boolean isStatic;
        /** Whether the bean instance is made for each call (and destroyed after it). */
        private final boolean isDependent;
        private final int messagePosition;
        private final InjectionPoint[] injected;
        private final String description;
        private volatile RequestContexts requestContexts;
        /** Per parameter: the client proxy to pass every time, or null where each call needs its own reference. */
        private volatile Object[] shared;
        /** Whether a call can make {@code @Dependent} objects (the bean itself, a parameter), set with shared. */
        private volatile boolean makesDependents;
        /** The bean instance when it lives as long as the application, else null. */
        private volatile Object applicationInstance;

        MethodInvoker(BeanManager beanManager, Bean<?> bean, Method method, int messagePosition,
                      InjectionPoint[] injected, String description) {
            this.beanManager = beanManager;
            this.bean = bean;
            this.method = method;
            this.isStatic = Modifier.isStatic(method.getModifiers());
            this.isDependent = !isStatic && bean.getScope() == Dependent.class;
            this.messagePosition = messagePosition;
            this.injected = injected;
            this.description = description;
            // Subscriber methods, like observer methods, need not be public.
            method.setAccessible(true);
        }

        @Override
        public void invoke(Object argument) throws Exception {
            Object[] references = shared();
            RequestContexts requestContext = requestContexts();
            boolean activated = requestContext.activate();
            CreationalContext<?> dependents = makesDependents ? beanManager.createCreationalContext(bean) : null;
            Object instance = null;
            try {
                instance = isStatic ? null : instance(dependents);
                Object[] arguments = new Object[injected.length];
                for (int i = 0; i < arguments.length; i++) {
                    arguments[i] = i == messagePosition ? argument
                            : references[i] != null ? references[i]
                            : beanManager.getInjectableReference(injected[i], dependents);
                }
                method.invoke(instance, arguments);
            } catch (InvocationTargetException e) {
                Throwable cause = e.getCause();
                if (cause instanceof Exception exception) {
                    throw exception;
                }
                if (cause instanceof Error error) {
                    throw error;
                }
                throw e;
            } finally {
                // Dependent objects made for this call (a @Dependent bean, injected parameters) end with it. A
                // @Dependent bean is destroyed through its bean (its @PreDestroy), which releases the rest.
                if (instance != null && isDependent) {
                    destroy(instance, dependents);
                } else if (dependents != null) {
                    dependents.release();
                }
                if (activated) {
                    // Ends this call's request context: its request-scoped beans are destroyed.
                    requestContext.deactivate();
                }
            }
        }

        /**
         * The client proxies of the parameters whose beans have a normal scope: a proxy finds the current instance
         * at each use (this call's request-scoped one, the application-scoped one), so it can be passed every time.
         * {@code @Dependent} parameters (and built-in beans such as {@code InjectionPoint}) stay per call.
         */
        private Object[] shared() {
            Object[] references = shared;
            if (references == null) {
                boolean dependent = isDependent;
                references = new Object[injected.length];
                for (int i = 0; i < injected.length; i++) {
                    InjectionPoint point = injected[i];
                    if (point == null) {
                        continue;
                    }
                    Bean<?> resolved = beanManager.resolve(beanManager.getBeans(point.getType(),
                            point.getQualifiers().toArray(new java.lang.annotation.Annotation[0])));
                    if (resolved != null && beanManager.isNormalScope(resolved.getScope())) {
                        references[i] = beanManager.getInjectableReference(point,
                                beanManager.createCreationalContext(null));
                    } else {
                        dependent = true;
                    }
                }
                makesDependents = dependent;
                shared = references;
            }
            return references;
        }

        private RequestContexts requestContexts() {
            RequestContexts contexts = requestContexts;
            if (contexts == null) {
                contexts = RequestContexts.of(beanManager, description);
                requestContexts = contexts;
            }
            return contexts;
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        private void destroy(Object instance, CreationalContext<?> dependents) {
            ((Bean) bean).destroy(instance, dependents);
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        private Object instance(CreationalContext<?> dependents) {
            Object instance = applicationInstance;
            if (instance != null) {
                return instance;
            }
            Context context = beanManager.getContext(bean.getScope());
            if (bean.getScope() == Dependent.class) {
                return context.get((Contextual) bean, dependents);
            }
            // The contextual instance itself, not its client proxy: a proxy cannot forward a private method.
            Object existing = context.get((Contextual) bean);
            instance = existing != null ? existing
                    : context.get((Contextual) bean, beanManager.createCreationalContext(bean));
            if (bean.getScope() == ApplicationScoped.class) {
                applicationInstance = instance;
            }
            return instance;
        }
    }
}
