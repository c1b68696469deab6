package dev.courier.it;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The demo on Payara Micro: Courier's metrics through MicroProfile Metrics, at the server's {@code /metrics}
 * endpoint, with no configuration.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(Servers.class)
class TelemetryPayaraMicroIT {

    private AppServer server;

    @BeforeAll
    void startServer() {
        server = Servers.acquire(Servers.Kind.PAYARA_MICRO);
    }


    /** The value of the first sample of that metric whose labels include stream="orders", or -1. */
    private double sample(String metrics, String name) {
        Matcher line = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)").matcher(metrics);
        while (line.find()) {
            if (line.group(1).contains("stream=\"orders\"")) {
                return Double.parseDouble(line.group(2));
            }
        }
        return -1;
    }

    private String metrics() {
        HttpResponse<String> response =
                server.send(HttpRequest.newBuilder(server.baseUri().resolve("metrics?scope=application"))
                .header("Accept", "text/plain").GET());
        assertEquals(200, response.statusCode(), response::body);
        return response.body();
    }

    @Test
    void the_counters_timers_and_gauges_are_served_by_microprofile_metrics() {
        double before = Math.max(0, sample(metrics(), "courier_messages_handled_total"));
        HttpResponse<String> published =
                server.send(HttpRequest.newBuilder(server.baseUri().resolve("api/streams/orders"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"order_id\": \"" + UUID.randomUUID() + "\"}")));
        assertEquals(200, published.statusCode(), published::body);
        String metrics = await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300))
                .until(this::metrics, m -> sample(m, "courier_messages_handled_total") >= before + 1);
        String demo = "group=\"dev.courier.demo.OrderSubscriber\"";
        assertEquals(true, metrics.contains(demo), metrics);
        assertEquals(true, sample(metrics, "courier_published_total") >= 1, metrics);
        assertEquals(true, sample(metrics, "courier_handler_duration_seconds_count") >= 1, metrics);
        assertEquals(true, sample(metrics, "courier_publish_duration_seconds_count") >= 1, metrics);
        assertEquals(true, sample(metrics, "courier_consumer_group_pending") >= 0, metrics);
    }
}
