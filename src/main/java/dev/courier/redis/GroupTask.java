package dev.courier.redis;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * One kind of a partitioned group's work done apart from the loop's thread (the reads ahead, the acks' batches): on a
 * thread of its own, started with the first task, one task in flight at most. Whoever waits for it gets its failure,
 * as if the task had run in its own thread.
 */
final class GroupTask implements AutoCloseable {

    private final String threadName;
    private ExecutorService thread;
    private Future<?> inFlight;
    private boolean closed;

    GroupTask(String threadName) {
        this.threadName = threadName;
    }

    /**
     * Starts the task unless one is in flight, or done and not taken in ({@link #await}, {@link #takeDone}), or this
     * is closed; whether it started.
     */
    synchronized boolean start(Runnable task) {
        if (closed || inFlight != null) {
            return false;
        }
        if (thread == null) {
            thread = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, threadName);
                t.setDaemon(true);
                return t;
            });
        }
        inFlight = thread.submit(task);
        return true;
    }

    /** Takes in the task if it is done, throwing its failure; waits for nothing. */
    void takeDone() {
        synchronized (this) {
            if (inFlight == null || !inFlight.isDone()) {
                return;
            }
        }
        await();
    }

    /** Waits for the task in flight, if any, throwing its failure; whether there was one. */
    boolean await() {
        Future<?> task;
        synchronized (this) {
            task = inFlight;
        }
        if (task == null) {
            return false;
        }
        try {
            task.get();
            return true;
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r
                    : new IllegalStateException(threadName + " failed", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + threadName, e);
        } finally {
            synchronized (this) {
                if (inFlight == task && task.isDone()) {
                    inFlight = null;
                }
            }
        }
    }

    /** Starts no more tasks; the thread ends after the one in flight, which this waits for (its failure thrown). */
    @Override
    public void close() {
        ExecutorService t;
        synchronized (this) {
            closed = true;
            t = thread;
        }
        if (t != null) {
            t.shutdown();
        }
        await();
    }
}
