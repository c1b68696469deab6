package dev.courier.internal.engine;

import javax.naming.InitialContext;
import javax.naming.NamingException;
import java.lang.System.Logger.Level;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/** Where loop threads come from. */
final class Threads {

    private static final System.Logger LOG = System.getLogger("dev.courier.engine");

    static final String MANAGED_THREAD_FACTORY = "java:comp/DefaultManagedThreadFactory";
    static final String MANAGED_SCHEDULER = "java:comp/DefaultManagedScheduledExecutorService";

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

    /** A scheduler; {@code owned} when Courier made it and must shut it down (a server's must not be). */
    record Scheduler(ScheduledExecutorService executor, boolean owned) {
    }

    /**
     * The server's default {@code ManagedScheduledExecutorService}, looked up as {@link #lookup()} looks up the
     * thread factory; a daemon thread of Courier's own where there is none.
     */
    static Scheduler scheduler() {
        try {
            Object found = new InitialContext().lookup(MANAGED_SCHEDULER);
            if (found instanceof ScheduledExecutorService executor) {
                LOG.log(Level.DEBUG, "broker maintenance runs on {0}", MANAGED_SCHEDULER);
                return new Scheduler(executor, false);
            }
        } catch (NamingException | RuntimeException | LinkageError e) {
            LOG.log(Level.DEBUG, () -> MANAGED_SCHEDULER + " not available (" + e
                    + "); broker maintenance runs on a daemon thread");
        }
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, task -> {
            Thread thread = new Thread(task, "courier-maintenance");
            thread.setDaemon(true);
            return thread;
        });
        executor.setRemoveOnCancelPolicy(true);
        return new Scheduler(executor, true);
    }
}
