package dev.courier.it;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a subscriber method sees of the server's CDI, through the demo's {@code ContextChecks} (stream
 * "context-checks", {@code GET /api/context-checks}): a request context of its own per message, {@code @Dependent}
 * parameters destroyed after each call, and no context left behind on the loop thread by a call that throws.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(Servers.class)
abstract class SubscriberContextIT {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private final HttpClient http = AppServer.httpClient();
    private AppServer server;

    protected abstract Servers.Kind kind();

    @BeforeAll
    void startServer() {
        server = Servers.acquire(kind());
    }

    @Test
    void each_message_has_its_own_request_bean_and_dependents_are_destroyed_after_each_call() {
        String run = UUID.randomUUID().toString();
        for (int i = 0; i < 5; i++) {
            publish("{\"name\": \"" + run + "-" + i + "\"}");
        }
        List<Map<?, ?>> calls = await().atMost(WAIT).until(() -> calls(run), c -> c.size() == 5);

        Set<Object> requestBeans = calls.stream().map(c -> c.get("requestBean")).collect(Collectors.toSet());
        assertEquals(5, requestBeans.size(), "a request-scoped bean per message: " + calls);
        for (Map<?, ?> call : calls) {
            // Calls on one loop run one after the other: every earlier call's dependent is gone.
            assertEquals(number(call, "dependent") - 1, number(call, "dependentsDestroyedBefore"),
                    "the @Dependent parameters of the earlier calls are destroyed: " + call);
        }
        await().atMost(WAIT).until(() -> destroyedRequestBeans().containsAll(requestBeans));
    }

    @Test
    void a_call_that_throws_leaves_no_request_context_active_on_the_loop_thread() {
        String run = UUID.randomUUID().toString();
        publish("{\"name\": \"" + run + "-fails\", \"fail\": true}");
        await().atMost(WAIT).until(() -> calls(run).size() >= 1);
        publish("{\"name\": \"" + run + "-next\"}");
        List<Map<?, ?>> calls = await().atMost(WAIT).until(() -> calls(run),
                c -> c.stream().anyMatch(call -> call.get("name").equals(run + "-next")));

        Map<?, ?> failed = calls.get(0);
        Map<?, ?> next = calls.stream().filter(c -> c.get("name").equals(run + "-next")).findFirst().orElseThrow();
        assertEquals(run + "-fails", failed.get("name"));
        assertEquals(failed.get("thread"), next.get("thread"), "one loop thread");
        // Had the failed call left its context active, the next call would have run in it, with the same bean.
        assertNotEquals(failed.get("requestBean"), next.get("requestBean"));
        await().atMost(WAIT).until(() -> destroyedRequestBeans().contains(failed.get("requestBean")));
        assertEquals(number(next, "dependent") - 1, number(next, "dependentsDestroyedBefore"),
                "the failed call's @Dependent parameter was destroyed too: " + next);
    }

    private static int number(Map<?, ?> call, String key) {
        return ((Number) call.get(key)).intValue();
    }

    private List<Map<?, ?>> calls(String run) {
        return ((List<?>) report().get("calls")).stream().map(c -> (Map<?, ?>) c)
                .filter(c -> String.valueOf(c.get("name")).startsWith(run)).collect(Collectors.toList());
    }

    private Set<Object> destroyedRequestBeans() {
        return new HashSet<>((List<?>) report().get("requestBeansDestroyed"));
    }

    private Map<?, ?> report() {
        HttpResponse<String> response =
                server.send(HttpRequest.newBuilder(server.baseUri().resolve("api/context-checks"))
                .GET());
        assertEquals(200, response.statusCode(), response::body);
        return (Map<?, ?>) DemoJson.parse(response.body());
    }

    private void publish(String json) {
        HttpResponse<String> response = server.send(HttpRequest.newBuilder(
                server.baseUri().resolve("api/streams/context-checks")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)));
        assertTrue(response.statusCode() == 200, () -> "HTTP " + response.statusCode() + ": " + response.body());
    }

}
