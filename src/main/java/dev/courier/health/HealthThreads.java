package dev.courier.health;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Threads that run broker probes, so that a broker that does not answer costs a health check its timeout, not a
 * hung request. Daemon threads, created on demand and gone after a minute idle; when all are taken, a probe is
 * refused (and reported) rather than run on the caller's thread.
 */
final class HealthThreads {

    private static final AtomicInteger COUNT = new AtomicInteger();

    static final ExecutorService EXECUTOR = new ThreadPoolExecutor(0, 16, 60, TimeUnit.SECONDS,
            new SynchronousQueue<>(), runnable -> {
                Thread thread = new Thread(runnable, "courier-health-" + COUNT.incrementAndGet());
                thread.setDaemon(true);
                return thread;
            });

    private HealthThreads() {
    }
}
