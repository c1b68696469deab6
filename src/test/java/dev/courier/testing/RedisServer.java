package dev.courier.testing;

import java.nio.file.Path;
import java.time.Duration;

/** A Redis server that a test was given by {@link WithRedis}. */
public interface RedisServer {

    String host();

    int port();

    /** {@code redis://host:port/0}. */
    default String uri() {
        return "redis://" + host() + ":" + port() + "/0";
    }

    /** {@code redis://user:password@host:port/0}. */
    default String uri(String user, String password) {
        return "redis://" + user + ":" + password + "@" + host() + ":" + port() + "/0";
    }

    /** The TLS port ({@link WithRedis#tls()}), else -1. */
    default int tlsPort() {
        return -1;
    }

    /** A PKCS12 truststore holding the server's self-signed certificate ({@link WithRedis#tls()}). */
    default Path truststore() {
        throw new UnsupportedOperationException("no TLS");
    }

    /** The truststore's password. */
    default String truststorePassword() {
        return "changeit";
    }

    /** Runs one command on a connection of its own, as redis-cli would; the reply as Jedis gives it. */
    Object command(String... args);

    /** The server's version, such as 7.0.15. */
    default String version() {
        String info = new String((byte[]) command("INFO", "server"), java.nio.charset.StandardCharsets.UTF_8);
        return info.lines().filter(l -> l.startsWith("redis_version:")).findFirst().orElse(":").split(":")[1].trim();
    }

    /** Shuts the server down gracefully (SIGTERM: an append-only file is flushed). */
    void stop();

    /** Starts it again on the same port in the same folder. */
    void start();

    /** Starts it again without waiting until it answers PING, as while it loads a large data set. */
    default void startWithoutWaiting() {
        throw new UnsupportedOperationException("use @WithRedis(controllable = true)");
    }

    /** Kills it with SIGKILL. */
    void kill();

    /** Freezes it (SIGSTOP): connections stay open, nothing is answered. */
    void pause();

    /** Unfreezes it (SIGCONT). */
    void resume();

    /** Waits until it answers PING. */
    void awaitReady(Duration timeout);

    /** Its working folder, or {@code null} for a container. */
    Path dir();

    /** Where it came from: {@code PATH}, {@code embedded-redis} or {@code testcontainers}. */
    String origin();
}
