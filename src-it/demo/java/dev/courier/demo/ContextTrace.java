package dev.courier.demo;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;

/** A request-scoped bean that tells {@link ContextChecks} when it is made and destroyed. */
@RequestScoped
public class ContextTrace {

    @Inject
    ContextChecks checks;

    private int number;

    @PostConstruct
    void made() {
        number = checks.newRequestBean();
    }

    public int number() {
        return number;
    }

    @PreDestroy
    void destroyed() {
        checks.requestBeanDestroyed(number);
    }
}
