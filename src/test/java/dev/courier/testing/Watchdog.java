package dev.courier.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Ends a process that a test started when the test JVM dies, however it dies (SIGKILL included): a shell whose
 * standard input is a pipe from this JVM waits for end of file, which only the JVM's death brings (Java closes every
 * other descriptor in the processes it starts), then kills the process and its children and removes its folder.
 * No polling of a pid that could be reused, and nothing that depends on which thread started the process (as
 * PR_SET_PDEATHSIG would). A normal stop {@link #disarm() disarms} it first.
 */
public final class Watchdog {

    /** $1 the pid, $2 a folder to remove (or empty); the children are read before the parent dies. */
    private static final String SCRIPT = "read -r _; kids=$(cat /proc/\"$1\"/task/*/children 2>/dev/null); "
            + "kill -KILL \"$1\" $kids 2>/dev/null; [ -n \"$2\" ] && /bin/rm -rf \"$2\"";

    private Process shell;

    private Watchdog(Process shell) {
        this.shell = shell;
    }

    /**
     * Arms a watchdog for {@code process}; {@code folder} (may be {@code null}) is removed after it. Where there is
     * no {@code /bin/sh} (Windows) nothing is armed and the process lives until the test ends it.
     */
    public static Watchdog arm(Process process, Path folder) {
        if (!Files.isExecutable(Path.of("/bin/sh"))) {
            return new Watchdog(null);
        }
        try {
            return new Watchdog(new ProcessBuilder("/bin/sh", "-c", SCRIPT, "courier-test-watchdog",
                    Long.toString(process.pid()), folder == null ? "" : folder.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
        } catch (IOException e) {
            process.destroyForcibly();
            throw new IllegalStateException("cannot start the watchdog of pid " + process.pid() + ": "
                    + e.getMessage(), e);
        }
    }

    /** Ends the watchdog without letting it act: the process is being ended by the test. */
    public synchronized void disarm() {
        if (shell == null) {
            return;
        }
        shell.destroyForcibly();
        try {
            shell.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        shell = null;
    }
}
