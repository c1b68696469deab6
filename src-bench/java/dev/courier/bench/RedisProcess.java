package dev.courier.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A redis-server of the benchmark's own, as the tests' LocalRedisServer starts one: from the PATH (or
 * {@code -Dbench.redis=/path/to/redis-server}), on a free port of 127.0.0.1, in a temporary folder, without
 * persistence; killed and its folder removed on close.
 */
final class RedisProcess implements AutoCloseable {

    static final String HOST = "127.0.0.1";

    private final Path dir;
    private final int port;
    private final Process process;

    private RedisProcess(String binary) throws IOException {
        dir = Files.createTempDirectory("courier-bench-redis-");
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getByName(HOST))) {
            port = socket.getLocalPort();
        }
        process = new ProcessBuilder(List.of(binary, "--port", Integer.toString(port), "--bind", HOST,
                "--dir", dir.toString(), "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--protected-mode", "no", "--logfile", dir.resolve("redis.log").toString()))
                .redirectErrorStream(true).redirectOutput(dir.resolve("stdout.log").toFile()).start();
        Runtime.getRuntime().addShutdownHook(new Thread(this::kill));
    }

    static RedisProcess start() throws IOException, InterruptedException {
        String binary = System.getProperty("bench.redis", "redis-server");
        RedisProcess redis = new RedisProcess(binary);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!redis.ping()) {
            if (!redis.process.isAlive() || System.nanoTime() > deadline) {
                redis.close();
                throw new IOException("redis-server (" + binary + ") did not start; is it on the PATH?");
            }
            Thread.sleep(20);
        }
        return redis;
    }

    int port() {
        return port;
    }

    String uri() {
        return "redis://" + HOST + ":" + port + "/0";
    }

    /** The server's version, from INFO. */
    String version() {
        return info("redis_version");
    }

    String info(String field) {
        return info("server", field);
    }

    /** The CPU time the server has used so far, in nanoseconds (INFO cpu: user and system). */
    long cpuNanos() {
        return Math.round((Double.parseDouble(info("cpu", "used_cpu_user")) + Double.parseDouble(info("cpu",
                "used_cpu_sys"))) * 1e9);
    }

    private String info(String section, String field) {
        String reply = command("*2\r\n$4\r\nINFO\r\n$" + section.length() + "\r\n" + section + "\r\n");
        return reply.lines().filter(l -> l.startsWith(field + ":")).map(l -> l.substring(field.length() + 1).trim())
                .findFirst().orElse("?");
    }

    private boolean ping() {
        try {
            return commandOrThrow("*1\r\n$4\r\nPING\r\n").startsWith("+PONG");
        } catch (IOException e) {
            return false;
        }
    }

    private String command(String resp) {
        try {
            return commandOrThrow(resp);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private String commandOrThrow(String resp) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(HOST, port), 1000);
            socket.setSoTimeout(2000);
            OutputStream out = socket.getOutputStream();
            out.write(resp.getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[65536];
            StringBuilder text = new StringBuilder();
            int n = in.read(buffer);
            if (n > 0) {
                text.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
            }
            // A bulk reply may come in several reads.
            if (text.length() > 0 && text.charAt(0) == '$') {
                int length = Integer.parseInt(text.substring(1, text.indexOf("\r\n")));
                while (text.length() < length && (n = in.read(buffer)) > 0) {
                    text.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
                }
            }
            return text.toString();
        }
    }

    private void kill() {
        if (process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        kill();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // A temporary folder left behind is harmless.
        }
    }
}
