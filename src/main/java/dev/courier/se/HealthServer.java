package dev.courier.se;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.courier.Brokers;
import dev.courier.engine.Engine;
import dev.courier.health.HealthReport;
import dev.courier.internal.JsonCodec;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Courier's health checks over plain HTTP (the JDK's server), in MicroProfile Health's format: {@code /health},
 * {@code /health/ready}, {@code /health/live}, {@code /health/started}; 200 when UP, 503 when DOWN.
 */
final class HealthServer {

    private final HttpServer server;
    private final ExecutorService executor;

    private HealthServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    static HealthServer start(InetSocketAddress address, Brokers brokers, Engine engine, Duration stuckAfter)
            throws IOException {
        HttpServer server = HttpServer.create(address, 0);
        Supplier<HealthReport> ready = () -> HealthReport.readiness(brokers, engine);
        Supplier<HealthReport> live = () -> HealthReport.liveness(engine.status(), stuckAfter);
        Supplier<HealthReport> started = () -> HealthReport.startup(engine.status());
        server.createContext("/health", exchange -> answer(exchange, switch (exchange.getRequestURI().getPath()) {
            case "/health", "/health/" -> List.of(ready, live, started);
            case "/health/ready" -> List.of(ready);
            case "/health/live" -> List.of(live);
            case "/health/started" -> List.of(started);
            default -> null;
        }));
        AtomicInteger count = new AtomicInteger();
        // Two threads: a probe of a dead broker takes its 2 s timeout, and should not hold up liveness.
        ExecutorService executor = Executors.newFixedThreadPool(2, task -> {
            Thread thread = new Thread(task, "courier-health-http-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        server.setExecutor(executor);
        server.start();
        return new HealthServer(server, executor);
    }

    InetSocketAddress address() {
        return server.getAddress();
    }

    void stop() {
        server.stop(0);
        executor.shutdownNow();
    }

    private static void answer(HttpExchange exchange, List<Supplier<HealthReport>> checks) throws IOException {
        try (exchange) {
            if (checks == null || !exchange.getRequestMethod().equals("GET")) {
                exchange.sendResponseHeaders(checks == null ? 404 : 405, -1);
                return;
            }
            boolean up = true;
            List<Map<String, Object>> results = new ArrayList<>();
            for (Supplier<HealthReport> check : checks) {
                HealthReport report = check.get();
                up &= report.up();
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("name", report.name());
                result.put("status", report.up() ? "UP" : "DOWN");
                result.put("data", report.data());
                results.add(result);
            }
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("status", up ? "UP" : "DOWN");
            body.put("checks", results);
            byte[] bytes = JsonCodec.writeValue(body).getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(up ? 200 : 503, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }
}
