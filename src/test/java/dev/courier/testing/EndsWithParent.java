package dev.courier.testing;

import java.io.IOException;

/**
 * For a JVM that a test starts (and may kill): ends it when its standard input reaches end of file, which happens
 * when the test JVM that holds the other end of the pipe dies. So a child JVM never outlives a killed test run.
 */
public final class EndsWithParent {

    private EndsWithParent() {
    }

    /** Starts a daemon thread that reads standard input to its end, then halts this JVM. */
    public static void watch() {
        Thread watcher = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // the parent writes nothing that matters here
                }
            } catch (IOException ignored) {
                // as end of file
            }
            Runtime.getRuntime().halt(3);
        }, "ends-with-parent");
        watcher.setDaemon(true);
        watcher.start();
    }
}
