package dev.courier.cdi;

import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.BeforeDestroyed;
import jakarta.enterprise.context.Initialized;
import jakarta.enterprise.event.Observes;
import jakarta.interceptor.Interceptor;

/**
 * Starts the engine when the application has started and stops it when it stops, while the application's beans
 * still exist (at BeforeShutdown their contexts are gone already). Added to the deployment by
 * {@link CourierExtension}.
 */
class EngineLifecycle {

    /** Late, so that the application's own start-up observers have run before messages arrive. */
    void start(@Observes @Priority(Interceptor.Priority.LIBRARY_AFTER + 900) @Initialized(ApplicationScoped.class)
               Object event, CourierExtension extension) {
        extension.startEngine();
    }

    /** Early, so that handlers finish before the application's own shutdown observers tear things down. */
    void stop(@Observes @Priority(Interceptor.Priority.LIBRARY_BEFORE) @BeforeDestroyed(ApplicationScoped.class)
              Object event, CourierExtension extension) {
        extension.stopEngine();
    }
}
