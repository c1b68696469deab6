package dev.courier.it;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.EnumMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The servers of one integration-test run: each kind is started once, when its first test class needs it, and one
 * kind runs at a time (starting another stops the one before; both at once would only compete for the CPU). All
 * are stopped when the test run ends, and by a shutdown hook should the JVM end otherwise.
 *
 * <p>Test classes use it through {@code @ExtendWith(Servers.class)} and {@link #acquire(Kind)}.
 */
public final class Servers implements BeforeAllCallback {

    public enum Kind {
        OPEN_LIBERTY(OpenLibertyServer::new),
        /** With MicroProfile Telemetry 2.0 (server-config/telemetry.xml). */
        OPEN_LIBERTY_TELEMETRY(() -> new OpenLibertyServer(OpenLibertyServer.Variant.TELEMETRY)),
        /** With appSecurity-5.0, so that every thread has a security context. */
        OPEN_LIBERTY_SECURITY(() -> new OpenLibertyServer(OpenLibertyServer.Variant.APP_SECURITY)),
        PAYARA_MICRO(PayaraMicroServer::new);

        private final Supplier<AppServer> factory;

        Kind(Supplier<AppServer> factory) {
            this.factory = factory;
        }
    }

    private static final Map<Kind, AppServer> SERVERS = new EnumMap<>(Kind.class);

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(Servers::stopAll, "courier-it-servers-stop"));
    }

    /** The running server of that kind, started on first use; any server of another kind is stopped first. */
    public static AppServer acquire(Kind kind) {
        return acquire(kind, Map.of());
    }

    /**
     * The running server of that kind with that environment: started on first use, restarted when it runs with
     * another environment (so test classes that want the same one share a start). Any server of another kind is
     * stopped first.
     */
    public static synchronized AppServer acquire(Kind kind, Map<String, String> environment) {
        SERVERS.forEach((other, server) -> {
            if (other != kind) {
                server.stop();
            }
        });
        AppServer server = SERVERS.computeIfAbsent(kind, k -> k.factory.get());
        if (!server.environment().equals(environment)) {
            server.stop();
            server.environment().clear();
            server.environment().putAll(environment);
        }
        server.start();
        return server;
    }

    public static synchronized void stopAll() {
        SERVERS.values().forEach(AppServer::stop);
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        // Closed when the whole test run ends, not after each class.
        context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
                .getOrComputeIfAbsent(Servers.class, key -> (AutoCloseable) Servers::stopAll, AutoCloseable.class);
    }
}
