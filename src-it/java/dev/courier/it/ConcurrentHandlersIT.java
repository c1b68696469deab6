package dev.courier.it;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The demo's {@code ParallelSubscriber} (concurrency 4) on a server: handlers run at once, on managed threads, each
 * with a request context of its own, the application's naming context (a {@code java:comp} lookup), and the same
 * security context as a loop's own thread (CDI's {@code Principal}, through the demo's {@code CallerCheck}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(Servers.class)
abstract class ConcurrentHandlersIT {

    private final HttpClient http = AppServer.httpClient();
    private AppServer server;

    protected abstract Servers.Kind kind();

    @BeforeAll
    void startServer() {
        server = Servers.acquire(kind());
    }

    @Test
    void handlers_run_at_once_each_in_its_own_request_context_with_the_naming_and_security_contexts() {
        String run = UUID.randomUUID().toString();
        for (int i = 0; i < 8; i++) {
            HttpResponse<String> response = server.send(HttpRequest.newBuilder(uri("api/streams/parallel-jobs"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"job\": \"" + run + "-" + i
                            + "\", \"work_ms\": 400}")));
            assertEquals(200, response.statusCode(), response::body);
        }
        List<Map<?, ?>> jobs = await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                .until(() -> ours(run), list -> list.size() == 8);
        Set<Object> requests = new HashSet<>();
        Set<Object> threads = new HashSet<>();
        Set<Object> naming = new HashSet<>();
        Set<Object> callers = new HashSet<>();
        jobs.forEach(job -> {
            requests.add(job.get("request"));
            threads.add(job.get("thread"));
            naming.add(job.get("naming"));
            callers.add(job.get("caller"));
        });
        assertEquals(Set.of("java:comp"), naming, "the application's naming context on every worker: " + jobs);
        assertTrue(threads.stream().allMatch(t -> String.valueOf(t).contains("-worker-")), "on workers: " + threads);
        Object loopCaller = loopThreadCaller();
        assertTrue(String.valueOf(loopCaller).startsWith("name: "), "the loop's thread has a security context, "
                + "with the unauthenticated caller: " + loopCaller);
        assertEquals(Set.of(loopCaller), callers, "every worker has the loop thread's security context: " + jobs);
        assertEquals(8, requests.size(), "a request context per message: " + jobs);
        assertTrue(threads.size() >= 2, "several worker threads: " + threads);
        Map<?, ?> log = (Map<?, ?>) DemoJson.parse(
                server.send(HttpRequest.newBuilder(uri("api/parallel")).GET()).body());
        assertTrue(((Number) log.get("most_at_once")).intValue() >= 2, "handlers at once: " + log);
        assertTrue(((Number) log.get("most_at_once")).intValue() <= 4, "at most the concurrency: " + log);
    }

    /** The caller that the demo's {@code ContextChecks} (concurrency 1: on its loop's thread) sees. */
    private Object loopThreadCaller() {
        String name = UUID.randomUUID().toString();
        HttpResponse<String> published = server.send(HttpRequest.newBuilder(uri("api/streams/context-checks"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\": \"" + name + "\"}")));
        assertEquals(200, published.statusCode(), published::body);
        Map<?, ?> call = await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() ->
                ((List<?>) ((Map<?, ?>) DemoJson.parse(server.send(HttpRequest.newBuilder(uri("api/context-checks"))
                        .GET()).body())).get("calls")).stream().map(c -> (Map<?, ?>) c)
                        .filter(c -> name.equals(c.get("name"))).findFirst().orElse(null), c -> c != null);
        assertTrue(!String.valueOf(call.get("thread")).contains("-worker-"), "on the loop's thread: " + call);
        return call.get("caller");
    }

    private List<Map<?, ?>> ours(String run) {
        Map<?, ?> log = (Map<?, ?>) DemoJson.parse(
                server.send(HttpRequest.newBuilder(uri("api/parallel")).GET()).body());
        return ((List<?>) log.get("jobs")).stream().<Map<?, ?>>map(j -> (Map<?, ?>) j)
                .filter(j -> String.valueOf(j.get("job")).startsWith(run)).toList();
    }

    private URI uri(String path) {
        return server.baseUri().resolve(path);
    }

}
