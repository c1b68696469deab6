package dev.courier.se;

import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs an application's Courier subscribers outside any application server, until the JVM is asked to stop:
 * {@code java -cp <application and its dependencies> dev.courier.se.Main}.
 *
 * <p>With a CDI SE implementation on the class path (Weld SE), the application's bean archives (those with a
 * {@code META-INF/beans.xml}) are deployed with Courier's extension, as a server would deploy them: brokers from
 * MicroProfile Config, every {@code @Subscribe} method consuming. Without one, the configured brokers run with no
 * subscribers (build a {@link CourierRunner} with its subscribers instead). Either way the health checks are served
 * at {@code http://<host>:<courier.se.health-port>/health} (also {@code /health/ready}, {@code /health/live},
 * {@code /health/started}), and SIGTERM stops the loops gracefully, within {@code courier.engine.shutdown-timeout},
 * before the JVM exits.
 */
public final class Main {

    private static final System.Logger LOG = System.getLogger("dev.courier.se");
    private static final String CDI_SE_API = "jakarta.enterprise.inject.se.SeContainerInitializer";

    private Main() {
    }

    /**
     * Starts, then waits until the JVM stops.
     *
     * @param args none
     */
    public static void main(String[] args) throws InterruptedException {
        ClassLoader loader = Main.class.getClassLoader();
        CountDownLatch stopped = new CountDownLatch(1);
        Runnable stop;
        if (SeConfig.present(CDI_SE_API, loader) && CdiApplication.available()) {
            int port = CourierRunner.builder().healthPort();
            CdiApplication application = CdiApplication.start(port);
            stop = application::stop;
        } else {
            CourierRunner runner = CourierRunner.builder().build();
            LOG.log(Level.WARNING, "no CDI SE implementation (Weld SE) on the class path: the configured brokers "
                    + "{0} run without subscribers; build a dev.courier.se.CourierRunner with them instead",
                    List.copyOf(runner.brokers().names()));
            runner.start();
            stop = runner::stop;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            long start = System.nanoTime();
            try {
                stop.run();
                // Straight to stderr: java.util.logging resets its handlers in a shutdown hook of its own.
                System.err.println("Courier stopped in "
                        + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " ms");
            } finally {
                stopped.countDown();
            }
        }, "courier-shutdown"));
        LOG.log(Level.INFO, "Courier running; SIGTERM stops it");
        stopped.await();
    }
}
