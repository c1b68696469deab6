package dev.courier.se;

import dev.courier.Broker;
import dev.courier.redis.RedisBrokerProvider;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Main} as a JVM of its own, with Weld SE and an application bean archive holding {@link SlowOrders}, on a
 * real Redis: it serves health over HTTP, a SIGTERM in the middle of 1,000 messages stops it within
 * {@code shutdown-timeout}, and once started again it handles the rest: all 1,000 handled, none lost.
 */
@WithRedis
class MainProcessTest {

    private static final int MESSAGES = 1_000;
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(5);
    private static final String GROUP = SlowOrders.class.getName();
    private static final Pattern HEALTH = Pattern.compile("Courier health on http://localhost:(\\d+)/health");

    @TempDir
    Path work;

    @Test
    void sigterm_in_the_middle_loses_nothing_and_health_is_served(RedisServer redis) throws Exception {
        Path application = application();
        try (Broker publisher = new RedisBrokerProvider().create("publisher",
                new BrokerSettings("publisher", RedisBrokerProvider.NAME, Map.of("uri", redis.uri())))) {
            for (int n = 0; n < MESSAGES; n++) {
                publisher.publish("orders", Map.of("event_type", "order.placed", "n", n));
            }
        }
        List<Process> started = new ArrayList<>();
        try {
            Path firstLog = work.resolve("first.log");
            Process first = start(application, redis, firstLog);
            started.add(first);
            int port = healthPort(firstLog);
            HttpResponse<String> ready = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://localhost:" + port + "/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ready.statusCode(), ready.body());
            assertTrue(ready.body().contains("\"name\":\"courier-brokers\"") && ready.body()
                    .contains("\"default.provider\":\"redis\""), ready.body());

            await().atMost(Duration.ofSeconds(60)).until(() -> handled(redis) >= MESSAGES / 5);
            long signalled = System.nanoTime();
            first.destroy(); // SIGTERM
            assertTrue(first.waitFor(SHUTDOWN_TIMEOUT.toSeconds() + 10, TimeUnit.SECONDS), "still running");
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled);
            assertTrue(millis < SHUTDOWN_TIMEOUT.toMillis() + 5_000, "stopped after " + millis + " ms");
            long handledBeforeRestart = handled(redis);
            assertTrue(handledBeforeRestart < MESSAGES, "all were handled before the SIGTERM: not in the middle");
            String log = Files.readString(firstLog);
            assertTrue(log.contains("Courier stopped in"), log);

            Process second = start(application, redis, work.resolve("second.log"));
            started.add(second);
            await().atMost(Duration.ofSeconds(90)).until(() -> handled(redis) == MESSAGES);
            await().atMost(Duration.ofSeconds(30)).until(() -> pending(redis) == 0);
            second.destroy();
            assertTrue(second.waitFor(SHUTDOWN_TIMEOUT.toSeconds() + 10, TimeUnit.SECONDS), "still running");
        } finally {
            for (Process process : started) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** An application's bean archive: {@link SlowOrders} and a beans.xml, as its jar would hold them. */
    private Path application() throws IOException, java.net.URISyntaxException {
        Path classes = Path.of(SlowOrders.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path app = work.resolve("app");
        for (String name : List.of("SlowOrders.class", "SlowOrders$Order.class")) {
            Path target = app.resolve("dev/courier/se").resolve(name);
            Files.createDirectories(target.getParent());
            Files.copy(classes.resolve("dev/courier/se").resolve(name), target);
        }
        Files.createDirectories(app.resolve("META-INF"));
        Files.writeString(app.resolve("META-INF/beans.xml"), "<beans xmlns=\"https://jakarta.ee/xml/ns/jakartaee\" "
                + "version=\"4.0\" bean-discovery-mode=\"annotated\"/>\n");
        return app;
    }

    private static Process start(Path application, RedisServer redis, Path log) throws IOException {
        return new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "-Dbrokers.default.provider=redis",
                "-Dbrokers.default.uri=" + redis.uri(),
                "-Dbrokers.default.message-timeout=2",
                "-Dcourier.consumer-name=runner",
                "-Dcourier.engine.shutdown-timeout=" + SHUTDOWN_TIMEOUT.toSeconds(),
                "-D" + CourierRunner.HEALTH_PORT + "=0",
                "-Dtest.redis-uri=" + redis.uri(),
                "-cp", application + File.pathSeparator + System.getProperty("java.class.path"),
                RunnerProcess.class.getName())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static int healthPort(Path log) {
        int[] port = {-1};
        await().atMost(Duration.ofSeconds(60)).until(() -> {
            Matcher m = HEALTH.matcher(Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "");
            if (m.find()) {
                port[0] = Integer.parseInt(m.group(1));
            }
            return port[0] > 0;
        });
        return port[0];
    }

    private static long handled(RedisServer redis) {
        return (Long) redis.command("SCARD", SlowOrders.HANDLED);
    }

    private static long pending(RedisServer redis) {
        Object reply = redis.command("XPENDING", "orders", GROUP);
        return (Long) ((List<?>) reply).get(0);
    }
}
