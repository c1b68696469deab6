package dev.courier.internal.engine;

import dev.courier.DeadLetterAlert;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.Maintained;
import dev.courier.spi.MaintenancePolicy;

import java.lang.System.Logger.Level;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The maintenance task of each {@link Maintained} broker: every {@code maintenance-interval} it applies the broker's
 * retention, then compares each stream's dead-letter depth with its alert depth. A stream that reaches its depth
 * raises one alert (a WARNING and the listener); it is raised again only after the depth has fallen back below.
 */
final class BrokerMaintenance {

    private static final System.Logger LOG = System.getLogger("dev.courier.engine");

    private final Map<String, Maintained> brokers;
    private volatile Consumer<DeadLetterAlert> listener = alert -> { };
    /** The alerts that stand, by broker and stream. */
    private final Map<List<String>, DeadLetterAlert> alerts = new ConcurrentHashMap<>();
    private final Map<String, Boolean> failing = new ConcurrentHashMap<>();
    private final List<Future<?>> scheduled = new ArrayList<>();
    private Threads.Scheduler scheduler;

    /** @param brokers the maintained brokers, by name */
    BrokerMaintenance(Map<String, Maintained> brokers) {
        this.brokers = new LinkedHashMap<>(brokers);
    }

    void onAlert(Consumer<DeadLetterAlert> listener) {
        this.listener = listener;
    }

    /** Runs each broker's task on the server's scheduler (or one of Courier's), first after one interval. */
    synchronized void start() {
        if (brokers.isEmpty() || scheduler != null) {
            return;
        }
        scheduler = Threads.scheduler();
        ScheduledExecutorService executor = scheduler.executor();
        brokers.forEach((name, broker) -> {
            long interval = broker.maintenancePolicy().interval().toMillis();
            scheduled.add(executor.scheduleWithFixedDelay(() -> run(name), interval, interval,
                    TimeUnit.MILLISECONDS));
        });
    }

    /** Cancels the tasks; a server's executor is left running, one of Courier's own is shut down. */
    synchronized void stop() {
        scheduled.forEach(task -> task.cancel(false));
        scheduled.clear();
        if (scheduler != null && scheduler.owned()) {
            scheduler.executor().shutdownNow();
        }
    }

    /** One pass over one broker; no exception escapes, so that the schedule goes on. */
    void run(String name) {
        Maintained broker = brokers.get(name);
        Map<String, Long> depths;
        try {
            depths = broker.maintain();
        } catch (RuntimeException e) {
            // Once per spell of failures: the loops report an unreachable broker already.
            if (failing.put(name, true) == null) {
                LOG.log(Level.WARNING, "broker ''{0}'': maintenance failed ({1}); trying again every {2} ms", name,
                        BrokerSettings.maskUserInfo(String.valueOf(e)),
                        broker.maintenancePolicy().interval().toMillis());
            }
            return;
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable e) {
            LOG.log(Level.ERROR, "broker ''" + name + "'': maintenance failed", e);
            return;
        }
        failing.remove(name);
        check(name, broker.maintenancePolicy(), depths);
    }

    private void check(String name, MaintenancePolicy policy, Map<String, Long> depths) {
        depths.forEach((stream, depth) -> {
            List<String> key = List.of(name, stream);
            long threshold = policy.alertDepth(stream);
            DeadLetterAlert standing = alerts.get(key);
            if (threshold > 0 && depth >= threshold) {
                if (standing != null) {
                    alerts.put(key, new DeadLetterAlert(name, stream, depth, threshold, standing.raisedAt()));
                    return;
                }
                DeadLetterAlert alert = new DeadLetterAlert(name, stream, depth, threshold, Instant.now());
                alerts.put(key, alert);
                LOG.log(Level.WARNING, "broker ''{0}'': the dead-letter queue of stream ''{1}'' holds {2} message(s), "
                        + "at or above dead-letter-alert-depth {3}", name, stream, depth, threshold);
                try {
                    listener.accept(alert);
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "an observer of " + alert + " failed", e);
                }
            } else if (standing != null) {
                alerts.remove(key);
                LOG.log(Level.INFO, "broker ''{0}'': the dead-letter queue of stream ''{1}'' is back below "
                        + "dead-letter-alert-depth ({2} < {3})", name, stream, depth, threshold);
            }
        });
    }

    /** The alerts that stand, with the depth last seen. */
    List<DeadLetterAlert> alerts() {
        return List.copyOf(alerts.values());
    }
}
