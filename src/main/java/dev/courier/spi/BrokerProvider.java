package dev.courier.spi;

import dev.courier.Broker;

import java.util.Set;

/**
 * Builds brokers of one kind. Courier finds providers with {@link java.util.ServiceLoader} (a line naming the class
 * in {@code META-INF/services/dev.courier.spi.BrokerProvider}) and as CDI beans.
 *
 * <pre>{@code
 * public class AcmeBrokerProvider implements BrokerProvider {
 *     public String name() { return "acme"; }
 *     public Set<String> options() { return Set.of("endpoint"); }
 *     public Broker create(String brokerName, BrokerSettings settings) {
 *         return new AcmeBroker(brokerName, settings.require("endpoint"));
 *     }
 * }
 * // brokers.events.provider=acme
 * // brokers.events.endpoint=https://acme.example
 * }</pre>
 */
public interface BrokerProvider {

    /** The name used in {@code brokers.<name>.provider}. */
    String name();

    /**
     * The options this provider reads, besides {@code provider} and {@code uri}. Any other
     * {@code brokers.<name>.<option>} is reported at deployment as unknown, so that a misspelt option never passes
     * silently. {@link RetryPolicy#OPTIONS} holds the retry options that most providers take.
     */
    default Set<String> options() {
        return Set.of();
    }

    /**
     * Builds a broker. Called once per configured broker at deployment; it should check its settings here (so that
     * a bad one fails the deployment) and connect lazily.
     *
     * @throws dev.courier.BrokerConfigurationException a setting is wrong
     */
    Broker create(String brokerName, BrokerSettings settings);
}
