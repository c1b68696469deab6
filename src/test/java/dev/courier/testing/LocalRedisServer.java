package dev.courier.testing;

import org.awaitility.core.ConditionTimeoutException;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.commands.ProtocolCommand;
import redis.clients.jedis.util.SafeEncoder;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;

/**
 * A redis-server process that this test JVM started: on a free port, in a temporary folder. A watchdog ties the
 * server's life to this JVM's: if the JVM dies without closing it (SIGKILL, a crash), the server is killed and its
 * folder removed.
 */
final class LocalRedisServer implements RedisServer, AutoCloseable {

    private static final String HOST = "127.0.0.1";

    private final Path binary;
    private final String origin;
    private final Path dir;
    private final int port;
    private final int tlsPort;
    private final List<String> args;
    private Process process;
    /** Kills the server and removes its folder should this JVM die without closing it. */
    private Watchdog watchdog;

    private LocalRedisServer(Path binary, String origin, boolean tls, List<String> extraArgs,
                             List<String> sentinelConfig) throws IOException {
        this.binary = binary;
        this.origin = origin;
        // COURIER_TEST_TMP (set by .ci/run) gathers a run's folders, so that what a run leaves can be found.
        String base = System.getenv("COURIER_TEST_TMP");
        this.dir = base == null || base.isEmpty() ? Files.createTempDirectory("courier-redis-")
                : Files.createTempDirectory(Files.createDirectories(Path.of(base)), "courier-redis-");
        this.port = freePort();
        this.tlsPort = tls ? freePort() : -1;
        List<String> a = new ArrayList<>();
        if (sentinelConfig != null) {
            // Sentinel takes its configuration from a file it can rewrite (it records what it learns there).
            Path config = Files.write(dir.resolve("sentinel.conf"), sentinelConfig);
            a.addAll(List.of(config.toString(), "--sentinel"));
        }
        a.addAll(List.of(
                "--port", Integer.toString(port), "--bind", HOST, "--dir", dir.toString(),
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
                "--logfile", dir.resolve("redis.log").toString()));
        if (tls) {
            makeCertificate();
            a.addAll(List.of("--tls-port", Integer.toString(tlsPort),
                    "--tls-cert-file", dir.resolve("redis.crt").toString(),
                    "--tls-key-file", dir.resolve("redis.key").toString(),
                    "--tls-ca-cert-file", dir.resolve("redis.crt").toString(),
                    "--tls-auth-clients", "no"));
        }
        a.addAll(extraArgs); // later arguments win
        this.args = List.copyOf(a);
    }

    /** Starts a server from the PATH, else from embedded-redis's binaries. */
    static LocalRedisServer launch(boolean tls, List<String> extraArgs) throws IOException {
        return launch(tls, extraArgs, null);
    }

    /** Starts a Sentinel ({@code redis-server sentinel.conf --sentinel}) with these lines of configuration. */
    static LocalRedisServer launchSentinel(List<String> config) throws IOException {
        return launch(false, List.of(), config);
    }

    private static LocalRedisServer launch(boolean tls, List<String> extraArgs, List<String> sentinelConfig)
            throws IOException {
        // -Dcourier.redis.binary=embedded tries the last fallback on a machine that has redis-server.
        Path binary = "embedded".equals(System.getProperty("courier.redis.binary")) ? null : onPath("redis-server");
        String origin = "PATH";
        if (binary == null) {
            binary = embeddedBinary();
            origin = "embedded-redis";
        }
        LocalRedisServer server = new LocalRedisServer(binary, origin, tls, extraArgs, sentinelConfig);
        server.start();
        return server;
    }

    @Override
    public String host() {
        return HOST;
    }

    @Override
    public int port() {
        return port;
    }

    @Override
    public int tlsPort() {
        return tlsPort;
    }

    @Override
    public Path truststore() {
        if (tlsPort < 0) {
            throw new UnsupportedOperationException("no TLS");
        }
        return dir.resolve("truststore.p12");
    }

    /** The running server's process id, or -1. */
    synchronized long pid() {
        return process == null ? -1 : process.pid();
    }

    @Override
    public Path dir() {
        return dir;
    }

    @Override
    public String origin() {
        return origin;
    }

    @Override
    public Object command(String... command) {
        try (Jedis jedis = new Jedis(HOST, port)) {
            ProtocolCommand name = () -> SafeEncoder.encode(command[0]);
            return jedis.sendCommand(name, Arrays.copyOfRange(command, 1, command.length));
        }
    }

    @Override
    public synchronized void start() {
        startProcess();
        awaitReady(Duration.ofSeconds(20));
    }

    @Override
    public synchronized void startWithoutWaiting() {
        startProcess();
    }

    private void startProcess() {
        if (process != null && process.isAlive()) {
            return;
        }
        List<String> commandLine = new ArrayList<>();
        commandLine.add(binary.toString());
        commandLine.addAll(args);
        try {
            process = new ProcessBuilder(commandLine).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("stdout.log").toFile())).start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + binary + ": " + e.getMessage(), e);
        }
        watchdog = Watchdog.arm(process, dir);
    }

    @Override
    public void awaitReady(Duration timeout) {
        try {
            await().atMost(timeout).pollInterval(Duration.ofMillis(20)).until(() -> {
                if (process != null && !process.isAlive()) {
                    throw new IllegalStateException("redis-server exited with " + process.exitValue() + ": " + log());
                }
                return answersPing();
            });
        } catch (ConditionTimeoutException e) {
            throw new IllegalStateException("redis-server on port " + port + " not ready: " + log());
        }
    }

    private boolean answersPing() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(HOST, port), 200);
            socket.setSoTimeout(500);
            OutputStream out = socket.getOutputStream();
            out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            byte[] buffer = new byte[64];
            InputStream in = socket.getInputStream();
            int n = in.read(buffer);
            return n > 0 && new String(buffer, 0, n, StandardCharsets.US_ASCII).startsWith("+PONG");
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        resume(); // a stopped process cannot handle SIGTERM
        watchdog.disarm();
        process.destroy();
        waitFor();
    }

    @Override
    public synchronized void kill() {
        if (process == null) {
            return;
        }
        watchdog.disarm();
        process.destroyForcibly();
        waitFor();
    }

    private void waitFor() {
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        process = null;
    }

    @Override
    public synchronized void pause() {
        signal("STOP");
    }

    @Override
    public synchronized void resume() {
        signal("CONT");
    }

    private void signal(String signal) {
        if (process == null) {
            return;
        }
        try {
            new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start()
                    .waitFor(10, TimeUnit.SECONDS);
        } catch (IOException e) {
            throw new IllegalStateException("cannot send SIG" + signal + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        kill();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary folder left behind
        }
    }

    @Override
    public String toString() {
        return "redis-server (" + origin + ") on " + HOST + ":" + port + (tlsPort > 0 ? ", tls " + tlsPort : "");
    }

    private String log() {
        try {
            Path log = dir.resolve("redis.log");
            Path stdout = dir.resolve("stdout.log");
            String text = (Files.exists(stdout) ? Files.readString(stdout) : "")
                    + (Files.exists(log) ? Files.readString(log) : "");
            return text.length() > 2000 ? text.substring(text.length() - 2000) : text;
        } catch (IOException e) {
            return "(no log)";
        }
    }

    /**
     * A self-signed certificate for localhost and 127.0.0.1, and a truststore that trusts it, made with the JDK's own
     * {@code keytool} (so the tests need nothing but Java): the key pair goes into a PKCS12 keystore, from which the
     * certificate and the PKCS#8 private key are written as PEM files for redis-server.
     */
    private void makeCertificate() throws IOException {
        Path keystore = dir.resolve("redis.p12");
        char[] password = truststorePassword().toCharArray();
        Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
        Process process = new ProcessBuilder(keytool.toString(), "-genkeypair", "-alias", "redis",
                "-keyalg", "RSA", "-keysize", "2048", "-validity", "2", "-dname", "CN=localhost",
                "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass", truststorePassword())
                .redirectErrorStream(true).redirectOutput(dir.resolve("keytool.log").toFile()).start();
        try {
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                process.destroyForcibly();
                throw new IOException("keytool failed: " + Files.readString(dir.resolve("keytool.log")));
            }
            KeyStore keys = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(keystore)) {
                keys.load(in, password);
            }
            java.security.cert.Certificate certificate = keys.getCertificate("redis");
            Files.writeString(dir.resolve("redis.crt"), pem("CERTIFICATE", certificate.getEncoded()));
            Files.writeString(dir.resolve("redis.key"), pem("PRIVATE KEY", keys.getKey("redis", password).getEncoded()));
            KeyStore truststore = KeyStore.getInstance("PKCS12");
            truststore.load(null, null);
            truststore.setCertificateEntry("redis", certificate);
            try (OutputStream out = Files.newOutputStream(dir.resolve("truststore.p12"))) {
                truststore.store(out, password);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(e);
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + java.util.Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getByName(HOST))) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        }
    }

    private static Path onPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            Path candidate = Path.of(dir, name);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    /** The redis-server that com.github.codemonstur:embedded-redis ships for this OS and CPU, copied out. */
    private static Path embeddedBinary() throws IOException {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        boolean arm = arch.contains("aarch64") || arch.contains("arm");
        String resource;
        if (os.contains("win")) {
            resource = "redis-server-5.0.14.1-windows-amd64.exe";
        } else if (os.contains("mac")) {
            resource = arm ? "redis-server-6.2.6-v5-darwin-arm64" : "redis-server-6.2.6-v5-darwin-amd64";
        } else {
            resource = arm ? "redis-server-6.2.7-linux-arm64"
                    : arch.contains("64") ? "redis-server-6.2.6-v5-linux-amd64" : "redis-server-6.2.7-linux-386";
        }
        Path target = Path.of(System.getProperty("java.io.tmpdir"), "courier-" + resource);
        if (!Files.isExecutable(target)) {
            try (InputStream in = LocalRedisServer.class.getResourceAsStream("/" + resource)) {
                if (in == null) {
                    throw new IOException("no redis-server on the PATH and no " + resource
                            + " in embedded-redis on the test classpath");
                }
                Path temp = Files.createTempFile(target.getParent(), "courier-redis", ".tmp");
                Files.copy(in, temp, StandardCopyOption.REPLACE_EXISTING);
                temp.toFile().setExecutable(true);
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        }
        return target;
    }
}
