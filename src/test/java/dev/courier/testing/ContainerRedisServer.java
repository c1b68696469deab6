package dev.courier.testing;

import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.utility.DockerImageName;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.commands.ProtocolCommand;
import redis.clients.jedis.util.SafeEncoder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

/** A Redis container, where a Docker engine is there. Cannot be stopped and started again on the same port. */
final class ContainerRedisServer implements RedisServer, AutoCloseable {

    private final GenericContainer<?> container;

    private ContainerRedisServer(GenericContainer<?> container) {
        this.container = container;
    }

    /** Whether a Docker engine answers; asked only when one may be there, since asking can be slow. */
    static boolean dockerAvailable() {
        if (System.getenv("DOCKER_HOST") == null && !Files.exists(Path.of("/var/run/docker.sock"))) {
            return false;
        }
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    static ContainerRedisServer launch() {
        GenericContainer<?> container = new GenericContainer<>(DockerImageName.parse("redis:7.2-alpine"))
                .withExposedPorts(6379);
        container.start();
        return new ContainerRedisServer(container);
    }

    @Override
    public String host() {
        return container.getHost();
    }

    @Override
    public int port() {
        return container.getMappedPort(6379);
    }

    @Override
    public Object command(String... command) {
        try (Jedis jedis = new Jedis(host(), port())) {
            ProtocolCommand name = () -> SafeEncoder.encode(command[0]);
            return jedis.sendCommand(name, Arrays.copyOfRange(command, 1, command.length));
        }
    }

    @Override
    public void stop() {
        throw new UnsupportedOperationException("use @WithRedis(controllable = true)");
    }

    @Override
    public void start() {
        throw new UnsupportedOperationException("use @WithRedis(controllable = true)");
    }

    @Override
    public void kill() {
        throw new UnsupportedOperationException("use @WithRedis(controllable = true)");
    }

    @Override
    public void pause() {
        container.getDockerClient().pauseContainerCmd(container.getContainerId()).exec();
    }

    @Override
    public void resume() {
        container.getDockerClient().unpauseContainerCmd(container.getContainerId()).exec();
    }

    @Override
    public void awaitReady(Duration timeout) {
        // The container's wait strategy waited for the port.
    }

    @Override
    public Path dir() {
        return null;
    }

    @Override
    public String origin() {
        return "testcontainers";
    }

    @Override
    public void close() {
        container.stop();
    }
}
