package dev.courier.health;

import dev.courier.Message;
import dev.courier.Subscribe;
import dev.courier.testing.Deployment;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import io.smallrye.health.AsyncHealthCheckFactory;
import io.smallrye.health.SmallRyeHealth;
import io.smallrye.health.SmallRyeHealthReporter;
import io.smallrye.health.registry.HealthRegistries;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Readiness, liveness and startup as MicroProfile Health reports them, on inline and on a real Redis. */
@WithRedis(controllable = true)
class HealthChecksTest {

    static final String PASSWORD = "h3alth-s3cret";
    static RedisServer redis;
    final List<Deployment> deployed = new ArrayList<>();

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @AfterEach
    void undeploy() {
        deployed.forEach(Deployment::close);
    }

    Deployment deploy(Map<String, String> properties, Class<?>... beans) {
        List<Class<?>> all = new ArrayList<>(List.of(SmallRyeHealthReporter.class, AsyncHealthCheckFactory.class,
                HealthRegistries.class));
        all.addAll(List.of(beans));
        Deployment app = Deployment.of(properties, all.toArray(Class<?>[]::new));
        deployed.add(app);
        return app;
    }

    static SmallRyeHealthReporter reporter(Deployment app) {
        return app.bean(SmallRyeHealthReporter.class);
    }

    static JsonObject check(SmallRyeHealth health, String name) {
        return health.getPayload().getJsonArray("checks").stream()
                .map(JsonObject.class::cast)
                .filter(c -> c.getString("name").equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no check " + name + " in " + health.getPayload()));
    }

    static void createUser() {
        redis.command("ACL", "SETUSER", "app", "on", ">" + PASSWORD, "~*", "&*", "+@all");
    }

    @ApplicationScoped
    static class Worker {
        static volatile CountDownLatch release = new CountDownLatch(0);
        final CountDownLatch blocked = new CountDownLatch(1);

        void work(@Subscribe(stream = "jobs") Message message) throws InterruptedException {
            if ("block".equals(message.type())) {
                blocked.countDown();
                release.await(30, TimeUnit.SECONDS);
            }
        }

        CountDownLatch blocked() {
            return blocked;
        }
    }

    @Test
    void all_three_checks_are_up_on_inline_with_a_running_loop() {
        Deployment app = deploy(Deployment.inline(), Worker.class);
        await().atMost(Duration.ofSeconds(5)).until(() -> !reporter(app).getStartup().isDown());
        SmallRyeHealth health = reporter(app).getHealth();
        assertFalse(health.isDown(), health.getPayload().toString());
        JsonObject live = check(reporter(app).getLiveness(), LoopLivenessCheck.NAME).getJsonObject("data");
        String loop = "default/jobs/" + Worker.class.getName();
        assertEquals("running", live.getString(loop + ".state"));
        assertEquals(1, live.getJsonNumber("loops").intValue());
        JsonObject started = check(reporter(app).getStartup(), EngineStartupCheck.NAME).getJsonObject("data");
        assertTrue(started.getBoolean("started"));
        assertEquals(0, started.getJsonNumber("starting").intValue());
    }

    @Test
    void a_loop_stuck_in_a_handler_makes_liveness_down_until_it_cycles_again() throws InterruptedException {
        Worker.release = new CountDownLatch(1);
        Deployment app = deploy(Deployment.inline("courier.health.stuck-after", "0.5"), Worker.class);
        app.broker().publish("jobs", Map.of("type", "block"));
        assertTrue(app.bean(Worker.class).blocked().await(5, TimeUnit.SECONDS));

        await().atMost(Duration.ofSeconds(5)).until(() -> reporter(app).getLiveness().isDown());
        JsonObject data = check(reporter(app).getLiveness(), LoopLivenessCheck.NAME).getJsonObject("data");
        assertTrue(data.getString("default/jobs/" + Worker.class.getName() + ".stuck").startsWith("no read cycle"));
        assertFalse(reporter(app).getReadiness().isDown(), "a stuck loop is a liveness matter; the broker is fine");

        Worker.release.countDown();
        await().atMost(Duration.ofSeconds(5)).until(() -> !reporter(app).getLiveness().isDown());
    }

    @ApplicationScoped
    static class Crashing {
        void work(@Subscribe(stream = "crashes") Message message) {
            if ("crash".equals(message.type())) {
                throw new OutOfMemoryError("simulated");
            }
        }
    }

    @Test
    void liveness_is_down_naming_the_loop_while_it_restarts_after_an_error_and_up_once_it_runs_again() {
        Deployment app = deploy(Deployment.inline(), Crashing.class);
        String loop = "default/crashes/" + Crashing.class.getName();
        await().atMost(Duration.ofSeconds(5)).until(() -> !reporter(app).getLiveness().isDown());
        app.broker().publish("crashes", Map.of("type", "crash"));

        await().atMost(Duration.ofSeconds(5)).until(() -> reporter(app).getLiveness().isDown());
        JsonObject data = check(reporter(app).getLiveness(), LoopLivenessCheck.NAME).getJsonObject("data");
        assertEquals("restarting", data.getString(loop + ".state"));
        assertEquals(1, data.getJsonNumber(loop + ".restarts").intValue());
        assertTrue(data.getString(loop + ".not_running").startsWith("ended on an error"), data.toString());
        assertFalse(data.toString().contains("simulated"), "no exception text in health data: " + data);

        await().atMost(Duration.ofSeconds(5)).until(() -> !reporter(app).getLiveness().isDown());
        data = check(reporter(app).getLiveness(), LoopLivenessCheck.NAME).getJsonObject("data");
        assertEquals("running", data.getString(loop + ".state"));
    }

    public record Order(String id, int quantity) {
    }

    @ApplicationScoped
    static class Orders {
        void take(@Subscribe(stream = "orders") Order order) {
            if (order.quantity() < 0) {
                throw new IllegalStateException("refused");
            }
        }
    }

    @Test
    void the_loop_counts_what_it_did_with_each_message_and_the_broker_counts_every_dead_letter() {
        Deployment app = deploy(Deployment.inline("brokers.default.max-retries", "0"), Orders.class);
        app.broker().publish("orders", Map.of("id", "refused", "quantity", -1)); // thrown on; no retries
        app.broker().publish("orders", Map.of("id", "unbindable", "quantity", "many")); // not an Order
        app.broker().publish("orders", Map.of("id", "fine", "quantity", 1));
        await().atMost(Duration.ofSeconds(5)).until(() -> app.broker().deadLetterDepth("orders") == 2);

        String loop = "default/orders/" + Orders.class.getName();
        await().atMost(Duration.ofSeconds(5)).until(() -> check(reporter(app).getLiveness(), LoopLivenessCheck.NAME)
                .getJsonObject("data").getJsonNumber(loop + ".handled").intValue() == 1);
        JsonObject live = check(reporter(app).getLiveness(), LoopLivenessCheck.NAME).getJsonObject("data");
        assertEquals(1, live.getJsonNumber(loop + ".failed").intValue(), "the handler threw once");
        assertEquals(1, live.getJsonNumber(loop + ".unbindable").intValue(), "one payload did not fit Order");
        assertFalse(live.containsKey(loop + ".dead_lettered"), "a loop does not see all dead letters: " + live);

        JsonObject ready = check(reporter(app).getReadiness(), BrokerReadinessCheck.NAME).getJsonObject("data");
        assertEquals(2, ready.getJsonNumber("default.dead_lettered").intValue(),
                "every dead letter, whoever decided it: " + ready);
        assertEquals(2, ready.getJsonNumber("default.failed").intValue(), "the rejection and the dead-lettering");
    }

    @Test
    void readiness_follows_redis_down_and_up_again_and_liveness_stays_up() {
        createUser();
        Map<String, String> properties = new HashMap<>(Map.of(
                "brokers.default.provider", "inline",
                "brokers.orders.provider", "redis",
                "brokers.orders.uri", redis.uri("app", PASSWORD),
                "brokers.orders.connect-timeout", "0.5",
                "brokers.orders.socket-timeout", "0.5"));
        Deployment app = deploy(properties, RedisWorker.class);
        await().atMost(Duration.ofSeconds(5)).until(() -> !reporter(app).getReadiness().isDown());
        try {
            redis.stop();
            long stoppedAt = System.nanoTime();
            await().atMost(Duration.ofSeconds(5)).until(() -> reporter(app).getReadiness().isDown());
            System.out.printf("readiness: DOWN %d ms after Redis was stopped%n",
                    (System.nanoTime() - stoppedAt) / 1_000_000);
            JsonObject data = check(reporter(app).getReadiness(), BrokerReadinessCheck.NAME).getJsonObject("data");
            assertEquals("unhealthy", data.getString("orders.status"));
            assertEquals("healthy", data.getString("default.status"));
            assertFalse(reporter(app).getLiveness().isDown(), "an unreachable broker does not make the app dead");
            assertNoPassword(app);
        } finally {
            redis.start();
            createUser(); // ACL users live in memory: the restarted server has to learn it again
        }
        long startedAt = System.nanoTime();
        await().atMost(Duration.ofSeconds(5)).until(() -> !reporter(app).getReadiness().isDown());
        System.out.printf("readiness: UP again %d ms after Redis was started%n",
                (System.nanoTime() - startedAt) / 1_000_000);
        assertNoPassword(app);
    }

    static void assertNoPassword(Deployment app) {
        for (SmallRyeHealth health : List.of(reporter(app).getHealth(), reporter(app).getStartup())) {
            String json = health.getPayload().toString();
            assertFalse(json.contains(PASSWORD), json);
            assertFalse(json.contains("app:"), json);
        }
    }

    @ApplicationScoped
    static class RedisWorker {
        void work(@Subscribe(stream = "orders", broker = "orders") Map<String, Object> order) {
        }
    }

    @Test
    void a_disabled_engine_is_started_and_alive() {
        Deployment app = deploy(Deployment.inline("courier.engine.enabled", "false"), Worker.class);
        assertFalse(reporter(app).getStartup().isDown());
        assertFalse(reporter(app).getLiveness().isDown());
    }

    @Test
    void a_malformed_stuck_after_fails_deployment_naming_the_property() {
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> deploy(Deployment.inline("courier.health.stuck-after", "soon"), Worker.class));
        assertTrue(e.getMessage().contains("courier.health.stuck-after: 'soon' is not a duration"), e.getMessage());
    }
}
