package dev.courier.demo;

import dev.courier.Subscribe;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.Map;

/**
 * Handles the jobs of the stream "parallel-jobs" four at a time, on the server's managed threads, each with a request
 * context of its own (the request-scoped {@link RequestTrace}), the application's naming context
 * ({@code java:comp}) and the security context ({@link CallerCheck}). A job with {@code "work_ms"} takes that long.
 */
@ApplicationScoped
public class ParallelSubscriber {

    void onJob(@Subscribe(stream = "parallel-jobs", concurrency = 4, ordering = Subscribe.Ordering.NONE)
               Map<String, Object> job, RequestTrace trace, ParallelLog log, CallerCheck caller)
            throws InterruptedException {
        log.started();
        String request = trace.id();
        if (job.get("work_ms") instanceof Number millis) {
            Thread.sleep(millis.longValue()); // the job's work: a handler busy for work_ms, as a slow call would be
        }
        log.finished(job.get("job"), request, Thread.currentThread().getName(), naming(), caller.describe());
    }

    /** What the application's naming context gives a worker thread: java:comp resolves only where it is active. */
    private static String naming() {
        try {
            return new javax.naming.InitialContext().lookup("java:comp/DefaultManagedExecutorService") != null
                    ? "java:comp" : "nothing";
        } catch (javax.naming.NamingException | RuntimeException e) {
            return "failed: " + e;
        }
    }
}
