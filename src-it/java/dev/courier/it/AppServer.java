package dev.courier.it;

import dev.courier.testing.Watchdog;
import org.awaitility.core.ConditionTimeoutException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;

/**
 * An application server running the demo WAR in a child process, on free ports, for the integration tests.
 *
 * <p>Hooks for tests that need more than a running server (the Redis cases):
 * <ul>
 *   <li>{@link #environment()}: variables for the server process, such as {@code BROKERS_DEFAULT_PROVIDER=redis} and
 *       {@code BROKERS_DEFAULT_URI}; they apply from the next {@link #start()} or {@link #restart()};</li>
 *   <li>{@link #stop()} (graceful: SIGTERM, the server's own shutdown), {@link #kill()} (SIGKILL),
 *       {@link #start()} and {@link #restart()}; the base URI stays the same across restarts;</li>
 *   <li>{@link #log()}: the server's console output, for assertions and diagnostics.</li>
 * </ul>
 */
public abstract class AppServer implements AutoCloseable {

    /** A server that logged it is ready answers within seconds; after this long, it is stalled. */
    private static final Duration ANSWER_AFTER_READY = Duration.ofSeconds(60);
    private static final Duration START_TIMEOUT = Duration.ofSeconds(Long.getLong("courier.it.start-timeout", 300));
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    private static final String START_MARKER = "==== ";

    protected final Path workDir;
    protected final Path war;
    protected final int httpPort = freePort();
    private final Map<String, String> environment = new LinkedHashMap<>();
    private final HttpClient http = httpClient();
    /** What the last probe of the demo got, for the diagnosis of a start that fails. */
    private volatile String lastProbe = "none yet";
    private Process process;
    /** Kills the server (and the JVM its start script runs) should the test JVM die without stopping it. */
    private Watchdog watchdog;
    private Duration lastStartTime;

    protected AppServer(String kind) {
        this.workDir = Path.of(property("courier.it.work")).resolve(kind);
        this.war = existing(property("courier.it.war"));
    }

    /** A name for messages, such as "Open Liberty". */
    public abstract String name();

    /** The command that runs the server in the foreground, with {@link #war} deployed at / on {@link #httpPort}. */
    protected abstract List<String> command() throws IOException;

    /**
     * What the server writes to its console when the application fails to deploy. Both servers go on running
     * without it, so waiting for the demo to answer would take the whole start timeout.
     */
    protected abstract Pattern deploymentFailure();

    /** What the server logs once it is ready to serve requests. */
    protected abstract Pattern ready();

    /** Variables added to the server process's environment at its next start. */
    public Map<String, String> environment() {
        return environment;
    }

    /** The server's root, such as {@code http://localhost:41234/}. */
    public URI baseUri() {
        return URI.create("http://localhost:" + httpPort + "/");
    }

    public Path log() {
        return workDir.resolve("console.log");
    }

    /** How long the last start took, from launching the process to the demo answering over HTTP. */
    public Duration lastStartTime() {
        return lastStartTime;
    }

    /** The server's process while it runs (the benchmark reads its heap through it). */
    public java.util.Optional<ProcessHandle> processHandle() {
        return isRunning() ? java.util.Optional.of(process.toHandle()) : java.util.Optional.empty();
    }

    public boolean isRunning() {
        return process != null && process.isAlive();
    }

    /** Sends a request to the server; a failure to answer fails the test with the server's last log lines. */
    public HttpResponse<String> send(HttpRequest.Builder request) {
        try {
            return http.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new AssertionError(name() + " did not answer: " + e + "\n" + tail(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Starts the server and waits until the demo application answers. */
    public synchronized void start() {
        if (isRunning()) {
            return;
        }
        long started = System.nanoTime();
        launch();
        if (!answersOrStalls()) {
            // Ready by its own log, yet not answering for a minute (seen now and then on Payara Micro, cause not
            // yet known): the log gets a thread dump for the diagnosis, and the server one more start.
            System.out.printf("[courier-it] %s logged that it is ready but did not answer within %s (last probe: "
                    + "%s); thread dump appended to %s; starting it once more%n", name(), ANSWER_AFTER_READY,
                    lastProbe, log());
            threadDump();
            kill();
            launch();
        }
        awaitApplication(started);
        lastStartTime = Duration.ofNanos(System.nanoTime() - started);
        System.out.printf("[courier-it] %s started in %.1f s at %s (log: %s)%n",
                name(), lastStartTime.toMillis() / 1000.0, baseUri(), log());
    }

    private void launch() {
        try {
            Files.createDirectories(workDir);
            ProcessBuilder builder = new ProcessBuilder(command())
                    .directory(workDir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log().toFile()));
            builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
            builder.environment().putAll(environment);
            Files.writeString(log(), "\n" + START_MARKER + name() + " starting: " + builder.command() + "\n",
                    StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.APPEND);
            process = builder.start();
            watchdog = Watchdog.arm(process, null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name(), e);
        }
    }

    /**
     * Waits until the demo answers ({@code true}) or the server has logged that it is ready and then not answered
     * for {@link #ANSWER_AFTER_READY} ({@code false}). A slow start on a loaded machine is waited for, up to
     * {@link #START_TIMEOUT}.
     */
    private boolean answersOrStalls() {
        URI probe = baseUri().resolve("api/received");
        long[] readySince = {0};
        try {
            return await().atMost(START_TIMEOUT).pollInterval(Duration.ofMillis(250)).until(() -> {
                if (answers(probe)) {
                    return true;
                }
                if (readySince[0] == 0 && logSinceStart().map(text -> ready().matcher(text).find()).orElse(false)) {
                    readySince[0] = System.nanoTime();
                }
                return readySince[0] != 0 && System.nanoTime() - readySince[0] > ANSWER_AFTER_READY.toNanos()
                        ? Boolean.FALSE : null;
            }, answered -> answered != null);
        } catch (ConditionTimeoutException e) {
            return true; // not stalled after ready: awaitApplication reports the timeout
        }
    }

    private void threadDump() {
        try {
            new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                    Long.toString(process.pid()), "Thread.print")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log().toFile()))
                    .start().waitFor(30, TimeUnit.SECONDS);
        } catch (IOException e) {
            System.out.println("[courier-it] no thread dump: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the server gracefully (SIGTERM), as an orchestrator would; forcibly after a minute. */
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        List<ProcessHandle> children = new ArrayList<>(process.descendants().toList());
        watchdog.disarm();
        process.destroy();
        try {
            if (!process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                System.out.printf("[courier-it] %s did not stop within %s; killing it%n", name(), STOP_TIMEOUT);
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        children.forEach(ProcessHandle::destroyForcibly);
        process = null;
    }

    /** Kills the server at once (SIGKILL), as a crash would: no shutdown hooks, nothing flushed. */
    public synchronized void kill() {
        if (process == null) {
            return;
        }
        watchdog.disarm();
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        process = null;
    }

    public void restart() {
        stop();
        start();
    }

    @Override
    public void close() {
        stop();
    }

    private void awaitApplication(long startedNanos) {
        URI probe = baseUri().resolve("api/received");
        Duration left = START_TIMEOUT.minusNanos(System.nanoTime() - startedNanos);
        try {
            await().atMost(left.isNegative() ? Duration.ZERO : left).pollInterval(Duration.ofMillis(250))
                    .until(() -> answers(probe));
        } catch (ConditionTimeoutException e) {
            kill();
            throw new IllegalStateException(name() + ": the demo did not answer at " + probe + " within "
                    + START_TIMEOUT + "; log " + log() + ":\n" + tail());
        }
    }

    /** Whether the demo answers; fails at once when the server died or reported that the deployment failed. */
    private boolean answers(URI probe) throws InterruptedException {
        if (!process.isAlive()) {
            throw new IllegalStateException(name() + " exited with code " + process.exitValue()
                    + " before the demo answered; log " + log() + ":\n" + tail());
        }
        String failure = deploymentFailureInLog();
        if (failure != null) {
            kill();
            throw new IllegalStateException(name() + " could not deploy the demo:\n" + failure
                    + "\n(log " + log() + ")");
        }
        try {
            int status = http.send(HttpRequest.newBuilder(probe).timeout(Duration.ofSeconds(5)).GET().build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
            lastProbe = "HTTP " + status;
            return status == 200;
        } catch (IOException e) {
            lastProbe = e.toString();
            return false; // not listening yet
        }
    }

    /** The failure and the lines after it, if this start's part of the log reports one. */
    private String deploymentFailureInLog() {
        return logSinceStart().map(text -> {
            Matcher matcher = deploymentFailure().matcher(text);
            if (!matcher.find()) {
                return null;
            }
            int from = text.lastIndexOf('\n', matcher.start()) + 1;
            return text.substring(from, Math.min(text.length(), from + 4000));
        }).orElse(null);
    }

    /** This start's part of the log. */
    private java.util.Optional<String> logSinceStart() {
        try {
            String text = Files.readString(log(), StandardCharsets.UTF_8);
            return java.util.Optional.of(text.substring(Math.max(0, text.lastIndexOf(START_MARKER))));
        } catch (IOException e) {
            return java.util.Optional.empty();
        }
    }

    /**
     * A client for the demo as orchestrators' probes and curl talk to it: HTTP/1.1. The JDK client's default,
     * HTTP/2 with an h2c upgrade on cleartext, is a path Grizzly (Payara) has had hangs on.
     */
    static HttpClient httpClient() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    /** The last lines of the server's log. */
    public String tail() {
        try {
            List<String> lines = Files.readAllLines(log(), StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    protected static String property(String name) {
        String value = System.getProperty(name);
        if (value == null || value.isBlank()) {
            throw new IllegalStateException("system property " + name + " is not set; run the integration tests "
                    + "through Maven (mvn verify), which sets it");
        }
        return value;
    }

    protected static Path existing(String path) {
        Path file = Path.of(path);
        if (!Files.exists(file)) {
            throw new IllegalStateException(file + " does not exist; run mvn verify (it is built in the package "
                    + "and pre-integration-test phases)");
        }
        return file;
    }

    protected static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
