package dev.courier.demo;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.Dependent;
import jakarta.inject.Inject;

/** A {@code @Dependent} bean that tells {@link ContextChecks} when it is made and destroyed. */
@Dependent
public class CallScratch {

    @Inject
    ContextChecks checks;

    private int number;

    @PostConstruct
    void made() {
        number = checks.newDependent();
    }

    public int number() {
        return number;
    }

    @PreDestroy
    void destroyed() {
        checks.dependentDestroyed();
    }
}
