package dev.courier.se;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
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
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Main} with nothing on the class path but Courier and Jedis (no CDI, no MicroProfile Config, no JSON-B): it
 * reads the brokers from environment variables and {@code META-INF/microprofile-config.properties} by MicroProfile
 * Config's key rules, serves health, and stops on SIGTERM; and a {@link CourierRunner} whose subscriber takes
 * {@code Message} handles a message.
 */
class PlainMainProcessTest {

    private static final Pattern HEALTH = Pattern.compile("Courier health on http://localhost:(\\d+)/health");
    private static final List<String> RUNTIME = List.of("jedis-", "slf4j-api-", "commons-pool2-", "json-2",
            "gson-", "error_prone_annotations-", "redis-authx-core-");

    @TempDir
    Path work;

    @Test
    void runs_without_cdi_and_microprofile_config() throws Exception {
        Path classes = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path testClasses = Path.of(RunnerProcess.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path app = work.resolve("app");
        Files.createDirectories(app.resolve("dev/courier/se"));
        for (String name : List.of("RunnerProcess.class", "PlainOrders.class")) {
            Files.copy(testClasses.resolve("dev/courier/se").resolve(name), app.resolve("dev/courier/se").resolve(name));
        }
        Files.createDirectories(app.resolve("META-INF"));
        Files.writeString(app.resolve("META-INF/microprofile-config.properties"), "brokers.extra.provider=inline\n");
        List<String> classPath = new ArrayList<>(List.of(app.toString(), classes.toString()));
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = Path.of(entry).getFileName().toString();
            if (RUNTIME.stream().anyMatch(name::startsWith)) {
                classPath.add(entry);
            }
        }
        Path log = work.resolve("runner.log");
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-D" + CourierRunner.HEALTH_PORT + "=0",
                "-cp", String.join(File.pathSeparator, classPath), RunnerProcess.class.getName())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("BROKERS_DEFAULT_PROVIDER", "inline");
        Process runner = builder.start();
        try {
            int[] port = {-1};
            await().atMost(Duration.ofSeconds(60)).until(() -> {
                Matcher m = HEALTH.matcher(Files.readString(log, StandardCharsets.UTF_8));
                port[0] = m.find() ? Integer.parseInt(m.group(1)) : -1;
                return port[0] > 0 || !runner.isAlive();
            });
            assertTrue(runner.isAlive(), Files.readString(log));
            HttpResponse<String> ready = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://localhost:" + port[0] + "/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ready.statusCode(), ready.body());
            assertTrue(ready.body().contains("\"default.provider\":\"inline\"")
                    && ready.body().contains("\"extra.provider\":\"inline\""), ready.body());
            HttpResponse<String> missing = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://localhost:" + port[0] + "/health/nothing")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(404, missing.statusCode());
            runner.destroy(); // SIGTERM
            assertTrue(runner.waitFor(30, TimeUnit.SECONDS), "still running");
            String output = Files.readString(log);
            assertTrue(output.contains("no CDI SE implementation") && output.contains("Courier stopped in"), output);
            assertTrue(!output.contains("NoClassDefFoundError"), output);
        } finally {
            runner.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }

        // A subscriber taking Message needs no JSON-B either.
        Path ordersLog = work.resolve("orders.log");
        Process orders = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-Dbrokers.default.provider=inline",
                "-cp", String.join(File.pathSeparator, classPath), PlainOrders.class.getName())
                .redirectErrorStream(true).redirectOutput(ordersLog.toFile()).start();
        try {
            assertTrue(orders.waitFor(60, TimeUnit.SECONDS), "still running");
            String output = Files.readString(ordersLog);
            assertEquals(0, orders.exitValue(), output);
            assertTrue(output.contains("handled {order_id=42}"), output);
        } finally {
            orders.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
