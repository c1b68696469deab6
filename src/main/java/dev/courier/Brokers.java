package dev.courier;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The configured brokers, by name. Injected with {@code @Inject Brokers brokers}.
 *
 * <pre>{@code
 * brokers.publish("user-events", Map.of("event_type", "user.registered", "user_id", "123"));
 * brokers.get("notifications").publish("notifications", new Email("user@example.com", "Welcome!"));
 * }</pre>
 */
public final class Brokers {

    /** The name of the broker that must always be configured. */
    public static final String DEFAULT = "default";

    private final Map<String, Broker> byName;

    /**
     * @param brokers the brokers by name; must contain {@value #DEFAULT}
     */
    public Brokers(Map<String, ? extends Broker> brokers) {
        if (!brokers.containsKey(DEFAULT)) {
            throw new BrokerConfigurationException("brokers." + DEFAULT + ".provider",
                    "no default broker is configured; set brokers.default.provider (inline, for example)");
        }
        Map<String, Broker> ordered = new LinkedHashMap<>();
        ordered.put(DEFAULT, brokers.get(DEFAULT));
        ordered.putAll(brokers);
        this.byName = Collections.unmodifiableMap(ordered);
    }

    /**
     * The broker of that name.
     *
     * @throws BrokerConfigurationException no broker of that name is configured; the message lists those that are
     */
    public Broker get(String name) {
        Broker broker = byName.get(Objects.requireNonNull(name, "name"));
        if (broker == null) {
            throw new BrokerConfigurationException("brokers." + name + ".provider",
                    "no broker named '" + name + "' is configured; configured brokers: " + byName.keySet());
        }
        return broker;
    }

    /** The {@value #DEFAULT} broker. */
    public Broker defaultBroker() {
        return byName.get(DEFAULT);
    }

    /** The configured names, in configuration order with {@value #DEFAULT} first. */
    public Set<String> names() {
        return byName.keySet();
    }

    /** Publishes on the default broker. @see Broker#publish */
    public String publish(String stream, Object message) {
        return defaultBroker().publish(stream, message);
    }

    /** Closes every broker; a failure to close one does not keep the others open. */
    public void closeAll() {
        RuntimeException first = null;
        for (Broker broker : byName.values()) {
            try {
                broker.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "Brokers" + byName.keySet();
    }
}
