package dev.courier.spi;

import java.util.Map;

/**
 * A broker whose storage Courier's engine looks after: now and then (every
 * {@link MaintenancePolicy#interval() maintenance-interval}) it calls {@link #maintain()} on a scheduler thread, then
 * compares the dead-letter depths with the {@link MaintenancePolicy#alertDepth(String) alert depths}.
 */
public interface Maintained {

    /** The broker's maintenance options. */
    MaintenancePolicy maintenancePolicy();

    /**
     * Applies the retention options: removes the dead letters older than
     * {@link MaintenancePolicy#deadLetterRetention() dead-letter-retention} (never a younger one), and the stream
     * entries that {@link Retention} allows removing by age.
     *
     * @return the dead-letter depth of each stream the broker knows, after the removal
     */
    Map<String, Long> maintain();
}
