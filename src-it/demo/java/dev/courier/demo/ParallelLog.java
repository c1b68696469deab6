package dev.courier.demo;

import jakarta.enterprise.context.ApplicationScoped;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@link ParallelSubscriber} did: each job with its request context, thread, naming and security context, and
 * the most at once.
 */
@ApplicationScoped
public class ParallelLog {

    private final List<Map<String, Object>> jobs = new ArrayList<>();
    private int running;
    private int mostAtOnce;

    synchronized void started() {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
    }

    synchronized void finished(Object job, String request, String thread, String naming, String caller) {
        running--;
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("job", job);
        entry.put("request", request);
        entry.put("thread", thread);
        entry.put("naming", naming);
        entry.put("caller", caller);
        jobs.add(entry);
    }

    public synchronized Map<String, Object> snapshot() {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("most_at_once", mostAtOnce);
        result.put("jobs", List.copyOf(jobs));
        return result;
    }
}
