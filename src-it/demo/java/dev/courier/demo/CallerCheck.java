package dev.courier.demo;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;

import java.security.Principal;

/**
 * The security context a handler runs with, as CDI's built-in {@link Principal} bean gives it (looked up for each
 * call, so that it answers for the calling thread): the caller's name, {@code "none"} with no caller, or what failed.
 * Looked up through {@link Instance}, so that a server without such a bean deploys the demo all the same.
 */
@ApplicationScoped
public class CallerCheck {

    @Inject
    Instance<Principal> caller;

    String describe() {
        if (caller.isUnsatisfied()) {
            return "no Principal bean";
        }
        try {
            Principal principal = caller.get();
            String name = principal == null ? null : principal.getName();
            return name == null ? "none" : "name: " + name;
        } catch (RuntimeException e) {
            return "failed: " + e.getClass().getName(); // no message: it names the failing object
        }
    }
}
