package dev.courier.internal;

import dev.courier.BrokerConfigurationException;
import dev.courier.BrokerConfigurationException.Code;

import java.util.ArrayList;
import java.util.List;

/**
 * The problems found while deploying, each typed with its code and property, so that all are reported at once: as
 * one friendly list in a message, and each attached as a suppressed exception for code that wants the property.
 * Shared by Courier's CDI extension and the Java SE runner. Not API.
 */
public final class Problems {

    private final List<BrokerConfigurationException> found = new ArrayList<>();

    public void add(BrokerConfigurationException problem) {
        found.add(problem);
    }

    public void add(Code code, String property, String message) {
        found.add(new BrokerConfigurationException(code, property, message));
    }

    public boolean isEmpty() {
        return found.isEmpty();
    }

    public int size() {
        return found.size();
    }

    public List<BrokerConfigurationException> all() {
        return List.copyOf(found);
    }

    /** {@code Courier configuration is invalid:} and a line per problem, ending with its code. */
    public String message() {
        StringBuilder text = new StringBuilder("Courier configuration is invalid:");
        for (BrokerConfigurationException problem : found) {
            text.append("\n  - ").append(problem.getMessage()).append(" [").append(problem.code().id()).append(']');
        }
        return text.toString();
    }

    /** The exception, with every problem attached as a suppressed exception. */
    public <T extends Throwable> T attachTo(T exception) {
        found.forEach(exception::addSuppressed);
        return exception;
    }
}
