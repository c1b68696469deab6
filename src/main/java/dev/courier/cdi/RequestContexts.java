package dev.courier.cdi;

import jakarta.enterprise.context.BeforeDestroyed;
import jakarta.enterprise.context.Destroyed;
import jakarta.enterprise.context.Initialized;
import jakarta.enterprise.context.RequestScoped;
import jakarta.enterprise.context.control.RequestContextController;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.spi.Bean;
import jakarta.enterprise.inject.spi.BeanManager;

import java.lang.annotation.Annotation;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Activates a request context of its own for a subscriber call on the calling thread, and ends it after the call,
 * as {@link RequestContextController} does. On Weld (Open Liberty, Payara, Java SE) it drives the same context the
 * controller drives, Weld's unbound request context, directly: the controller also builds three event payloads per
 * call (its own {@code toString()}), about a fifth of a trivial handler's cost in the server even when nothing
 * observes them. The {@code @Initialized}/{@code @BeforeDestroyed}/{@code @Destroyed(RequestScoped.class)} events
 * are fired here too, when something observes them. Elsewhere, the portable controller.
 */
abstract class RequestContexts {

    private static final System.Logger LOG = System.getLogger(RequestContexts.class.getName());

    /**
     * Activates a request context unless one is active on this thread.
     *
     * @return whether this call activated it (and must {@link #deactivate()} it)
     */
    abstract boolean activate();

    /** Ends the context {@link #activate()} activated: its request-scoped beans are destroyed. */
    abstract void deactivate();

    /** Weld's unbound request context where it is there, else the portable controller. */
    static RequestContexts of(BeanManager beanManager, String payload) {
        try {
            RequestContexts weld = Weld.find(beanManager, payload);
            if (weld != null) {
                return weld;
            }
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            LOG.log(System.Logger.Level.DEBUG, "Weld's request context not usable directly ({0}); using "
                    + "RequestContextController", e.toString());
        }
        return portable(beanManager);
    }

    static RequestContexts portable(BeanManager beanManager) {
        return new Portable(beanManager.createInstance().select(RequestContextController.class));
    }

    /** A controller per calling thread, as a controller is not meant to be shared by threads. */
    private static final class Portable extends RequestContexts {
        private final ThreadLocal<RequestContextController> controller;

        Portable(Instance<RequestContextController> controllers) {
            this.controller = ThreadLocal.withInitial(controllers::get);
        }

        @Override
        boolean activate() {
            return controller.get().activate();
        }

        @Override
        void deactivate() {
            controller.get().deactivate();
        }
    }

    /** Weld's {@code @Unbound RequestContext}: the context Weld's RequestContextController activates. */
    static final class Weld extends RequestContexts {
        private static final MethodType VOID = MethodType.methodType(void.class, Object.class);

        /** Whether any request context is active on this thread (the controller's check), given the scope. */
        private final MethodHandle anyActive;
        private final Object context;
        private final MethodHandle activate;
        private final MethodHandle invalidate;
        private final MethodHandle deactivate;
        private final String payload;
        /** Null where nothing observes the event. */
        private final Event<Object> initialized;
        private final Event<Object> beforeDestroyed;
        private final Event<Object> destroyed;

        private Weld(BeanManager beanManager, Object context, Class<?> type, String payload)
                throws ReflectiveOperationException {
            this.context = context;
            MethodHandles.Lookup lookup = MethodHandles.publicLookup();
            this.anyActive = anyActive(lookup, beanManager, type, context);
            this.activate = lookup.unreflect(type.getMethod("activate")).asType(VOID);
            this.invalidate = lookup.unreflect(type.getMethod("invalidate")).asType(VOID);
            this.deactivate = lookup.unreflect(type.getMethod("deactivate")).asType(VOID);
            this.payload = payload;
            this.initialized = observed(beanManager, payload, Initialized.Literal.REQUEST);
            this.beforeDestroyed = observed(beanManager, payload, BeforeDestroyed.Literal.REQUEST);
            this.destroyed = observed(beanManager, payload, Destroyed.Literal.REQUEST);
        }

        /** Weld's unbound request context seen through this bean manager, or null where it is not Weld's. */
        static Weld find(BeanManager beanManager, String payload) throws ReflectiveOperationException {
            ClassLoader loader = beanManager.getClass().getClassLoader();
            Class<?> type;
            Annotation unbound;
            try {
                type = Class.forName("org.jboss.weld.context.RequestContext", false, loader);
                unbound = (Annotation) Class.forName("org.jboss.weld.context.unbound.UnboundLiteral", true, loader)
                        .getField("INSTANCE").get(null);
            } catch (ClassNotFoundException e) {
                return null;
            }
            Bean<?> bean = beanManager.resolve(beanManager.getBeans(type, unbound));
            if (bean == null) {
                return null;
            }
            Object context = beanManager.getReference(bean, type, beanManager.createCreationalContext(bean));
            return new Weld(beanManager, context, type, payload);
        }

        /**
         * Weld's bean manager tells whether any context of the scope is active (CDI 4.1's
         * {@code isContextActive}, the controller's check); where it cannot, this context's {@code isActive()}, the
         * only request context a loop thread's calls activate.
         */
        private static MethodHandle anyActive(MethodHandles.Lookup lookup, BeanManager beanManager, Class<?> type,
                                              Object context) throws ReflectiveOperationException {
            try {
                return MethodHandles.insertArguments(lookup.unreflect(beanManager.getClass()
                                .getMethod("isContextActive", Class.class)), 0, beanManager, RequestScoped.class)
                        .asType(MethodType.methodType(boolean.class));
            } catch (NoSuchMethodException | IllegalAccessException e) {
                return MethodHandles.insertArguments(lookup.unreflect(type.getMethod("isActive"))
                        .asType(MethodType.methodType(boolean.class, Object.class)), 0, context);
            }
        }

        /** Resolved for the payload itself: an observer of {@code String} (or {@code Object}) events gets them. */
        private static Event<Object> observed(BeanManager beanManager, String payload, Annotation qualifier) {
            return beanManager.resolveObserverMethods(payload, qualifier).isEmpty() ? null
                    : beanManager.getEvent().select(qualifier);
        }

        @Override
        boolean activate() {
            if (isActive()) {
                return false;
            }
            call(activate);
            if (initialized != null) {
                initialized.fire(payload);
            }
            return true;
        }

        @Override
        void deactivate() {
            try {
                if (beforeDestroyed != null) {
                    beforeDestroyed.fire(payload);
                }
            } finally {
                try {
                    // Invalid, the context destroys its beans as it is deactivated.
                    call(invalidate);
                    call(deactivate);
                } finally {
                    if (destroyed != null) {
                        destroyed.fire(payload);
                    }
                }
            }
        }

        private boolean isActive() {
            try {
                return (boolean) anyActive.invokeExact();
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
        }

        private void call(MethodHandle method) {
            try {
                method.invokeExact(context);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
