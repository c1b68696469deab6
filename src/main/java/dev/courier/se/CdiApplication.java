package dev.courier.se;

import dev.courier.Brokers;
import dev.courier.engine.Engine;
import dev.courier.internal.HealthSettings;
import jakarta.enterprise.inject.se.SeContainer;
import jakarta.enterprise.inject.se.SeContainerInitializer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * The application's beans in a CDI SE container (Weld SE, say), with Courier's extension: its {@code @Subscribe}
 * methods run as they would in a server. Loaded only where the CDI SE API is present.
 */
final class CdiApplication {

    private static final System.Logger LOG = System.getLogger("dev.courier.se");

    private final SeContainer container;
    private final HealthServer health;

    private CdiApplication(SeContainer container, HealthServer health) {
        this.container = container;
        this.health = health;
    }

    /** Whether a CDI SE implementation is on the class path. */
    static boolean available() {
        try {
            SeContainerInitializer.newInstance();
            return true;
        } catch (IllegalStateException | LinkageError e) {
            return false;
        }
    }

    /**
     * Starts the container (the engine starts once it has started) and the health endpoints.
     *
     * @param healthPort the port, 0 for any free one, -1 for none
     */
    static CdiApplication start(int healthPort) {
        SeContainer container = SeContainerInitializer.newInstance()
                // This runner stops the container itself, after the health endpoints (Weld's own hook would race).
                .addProperty("org.jboss.weld.se.shutdownHook", false)
                .initialize();
        HealthServer health = null;
        try {
            if (healthPort >= 0) {
                Duration stuckAfter = HealthSettings.stuckAfter(org.eclipse.microprofile.config.ConfigProvider
                        .getConfig());
                health = HealthServer.start(new InetSocketAddress(healthPort), container.select(Brokers.class).get(),
                        container.select(Engine.class).get(), stuckAfter);
                LOG.log(Level.INFO, "Courier health on http://localhost:{0,number,#}/health",
                        health.address().getPort());
            }
        } catch (IOException | RuntimeException e) {
            container.close();
            if (e instanceof IOException io) {
                throw new UncheckedIOException(CourierRunner.HEALTH_PORT + ": cannot serve health on port "
                        + healthPort + ": " + e.getMessage(), io);
            }
            throw (RuntimeException) e;
        }
        return new CdiApplication(container, health);
    }

    /** Stops the health endpoints, then the container: the engine stops within its shutdown timeout. */
    void stop() {
        if (health != null) {
            health.stop();
        }
        if (container.isRunning()) {
            container.close();
        }
    }
}
