package dev.courier.se;

import java.io.IOException;
import java.io.InputStream;

/**
 * {@link Main} in a JVM of its own, for {@link MainProcessTest}, that also ends when its standard input closes
 * (the test's JVM has ended, however): it then exits through the shutdown hook, as on SIGTERM.
 */
public final class RunnerProcess {

    private RunnerProcess() {
    }

    public static void main(String[] args) throws Exception {
        Thread watcher = new Thread(() -> {
            try (InputStream in = System.in) {
                while (in.read() >= 0) {
                    // nothing is sent; wait for the end of the stream
                }
            } catch (IOException ignored) {
                // the parent is gone
            }
            System.exit(0);
        }, "parent-watcher");
        watcher.setDaemon(true);
        watcher.start();
        Main.main(args);
    }
}
