package dev.courier.engine;

import javax.naming.InitialContext;
import javax.naming.NamingException;
import java.lang.System.Logger.Level;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/** Where loop threads come from. */
final class Threads {

    private static final System.Logger LOG = System.getLogger("dev.courier.engine");

    static final String MANAGED_THREAD_FACTORY = "java:comp/DefaultManagedThreadFactory";

    private Threads() {
    }

    /**
     * The server's default {@code ManagedThreadFactory}, so that loop threads carry the application's naming,
     * class loader and security contexts; plain daemon threads where there is none (Java SE, tests). It must be
     * called on a thread of the application (the deploying thread): {@code java:comp} is resolved there.
     * JNDI rather than {@code @Resource}/{@code @Inject}: it works from library code on Open Liberty and Payara
     * alike, and the engine imports no CDI.
     */
    static ThreadFactory lookup() {
        try {
            Object found = new InitialContext().lookup(MANAGED_THREAD_FACTORY);
            if (found instanceof ThreadFactory factory) {
                LOG.log(Level.DEBUG, "consumption loops run on {0}", MANAGED_THREAD_FACTORY);
                return factory;
            }
        } catch (NamingException | RuntimeException | LinkageError e) {
            LOG.log(Level.DEBUG, () -> MANAGED_THREAD_FACTORY + " not available (" + e
                    + "); consumption loops run on plain daemon threads");
        }
        return daemonThreads();
    }

    /** Daemon threads, so that a Java SE application whose engine was never stopped can still exit. */
    static ThreadFactory daemonThreads() {
        AtomicInteger count = new AtomicInteger();
        return task -> {
            Thread thread = new Thread(task, "courier-loop-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
