package dev.courier.testing;

import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * A JVM that starts a {@link LocalRedisServer} and then waits to be killed, for tests of what is left when a test JVM
 * dies. Prints {@code PID <pid> DIR <folder> TLS <tls-port> TRUSTSTORE <file>} once the server answers.
 *
 * <p>Arguments: {@code plain} or {@code tls}.
 */
public final class RedisServerProcess {

    private RedisServerProcess() {
    }

    public static void main(String[] args) throws Exception {
        EndsWithParent.watch();
        boolean tls = args.length > 0 && args[0].equals("tls");
        LocalRedisServer server = LocalRedisServer.launch(tls, List.of());
        System.out.println("PID " + server.pid() + " DIR " + server.dir() + " TLS " + server.tlsPort()
                + " TRUSTSTORE " + (tls ? server.truststore() : "-"));
        System.out.flush();
        new CountDownLatch(1).await(); // until killed
    }

    /** Starts one in a JVM of its own, with the environment given. */
    public static Process start(String mode, java.util.Map<String, String> environment) throws java.io.IOException {
        ProcessBuilder builder = new ProcessBuilder(
                java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), RedisServerProcess.class.getName(), mode)
                .redirectError(ProcessBuilder.Redirect.INHERIT);
        builder.environment().putAll(environment);
        return builder.start();
    }
}
