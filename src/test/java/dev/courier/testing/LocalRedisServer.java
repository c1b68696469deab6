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
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;

/** A redis-server process that this test JVM started: on a free port, in a temporary folder. */
final class LocalRedisServer implements RedisServer, AutoCloseable {

    private static final String HOST = "127.0.0.1";

    private final Path binary;
    private final String origin;
    private final Path dir;
    private final int port;
    private final int tlsPort;
    private final List<String> args;
    private Process process;

    private LocalRedisServer(Path binary, String origin, boolean tls, List<String> extraArgs) throws IOException {
        this.binary = binary;
        this.origin = origin;
        this.dir = Files.createTempDirectory("courier-redis-");
        this.port = freePort();
        this.tlsPort = tls ? freePort() : -1;
        List<String> a = new ArrayList<>(List.of(
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
        // -Dcourier.redis.binary=embedded tries the last fallback on a machine that has redis-server.
        Path binary = "embedded".equals(System.getProperty("courier.redis.binary")) ? null : onPath("redis-server");
        String origin = "PATH";
        if (binary == null) {
            binary = embeddedBinary();
            origin = "embedded-redis";
        }
        LocalRedisServer server = new LocalRedisServer(binary, origin, tls, extraArgs);
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
        awaitReady(Duration.ofSeconds(20));
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
        process.destroy();
        waitFor();
    }

    @Override
    public synchronized void kill() {
        if (process == null) {
            return;
        }
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

    /** A self-signed certificate for localhost and 127.0.0.1, and a truststore that trusts it. */
    private void makeCertificate() throws IOException {
        Path key = dir.resolve("redis.key");
        Path crt = dir.resolve("redis.crt");
        Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key.toString(), "-out", crt.toString(), "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
                .redirectErrorStream(true).redirectOutput(dir.resolve("openssl.log").toFile()).start();
        try {
            if (!openssl.waitFor(60, TimeUnit.SECONDS) || openssl.exitValue() != 0) {
                throw new IOException("openssl failed: " + Files.readString(dir.resolve("openssl.log")));
            }
            KeyStore truststore = KeyStore.getInstance("PKCS12");
            truststore.load(null, null);
            try (InputStream in = Files.newInputStream(crt)) {
                truststore.setCertificateEntry("redis", CertificateFactory.getInstance("X.509").generateCertificate(in));
            }
            try (OutputStream out = Files.newOutputStream(dir.resolve("truststore.p12"))) {
                truststore.store(out, truststorePassword().toCharArray());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException(e);
        }
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
