package dev.courier.demo;

import dev.courier.Subscribe;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Shows what a subscriber method sees of CDI (for the integration tests; {@code GET /api/context-checks}): each
 * message on the stream "context-checks" is handled with a {@link ContextTrace} and a {@link CallScratch}, and a
 * message with {@code "fail": true} makes it throw. The last {@value #KEPT} calls and destructions are kept.
 */
@ApplicationScoped
public class ContextChecks {

    static final int KEPT = 1000;

    /**
     * One call: the request-scoped bean's and the {@code @Dependent} parameter's numbers, how many
     * {@code @Dependent} parameters had been destroyed when it began, and its caller ({@link CallerCheck}).
     */
    public record Call(String name, int requestBean, int dependent, int dependentsDestroyedBefore, String thread,
                       String caller) {
    }

    private final AtomicInteger requestBeans = new AtomicInteger();
    private final AtomicInteger dependents = new AtomicInteger();
    private final AtomicInteger dependentsDestroyed = new AtomicInteger();
    private final ArrayDeque<Call> calls = new ArrayDeque<>();
    private final ArrayDeque<Integer> requestBeansDestroyed = new ArrayDeque<>();

    void check(@Subscribe(stream = "context-checks") Map<String, Object> message, ContextTrace trace,
               CallScratch scratch, CallerCheck caller) {
        add(calls, new Call(String.valueOf(message.get("name")), trace.number(), scratch.number(),
                dependentsDestroyed.get(), Thread.currentThread().getName(), caller.describe()));
        if (Boolean.TRUE.equals(message.get("fail"))) {
            throw new IllegalStateException("the check asked to fail");
        }
    }

    int newRequestBean() {
        return requestBeans.incrementAndGet();
    }

    int newDependent() {
        return dependents.incrementAndGet();
    }

    void requestBeanDestroyed(int number) {
        add(requestBeansDestroyed, number);
    }

    void dependentDestroyed() {
        dependentsDestroyed.incrementAndGet();
    }

    public synchronized Map<String, Object> report() {
        return Map.of("calls", List.copyOf(calls), "requestBeansDestroyed", List.copyOf(requestBeansDestroyed),
                "dependentsDestroyed", dependentsDestroyed.get());
    }

    private synchronized <T> void add(ArrayDeque<T> kept, T item) {
        if (kept.size() == KEPT) {
            kept.removeFirst();
        }
        kept.addLast(item);
    }
}
