package dev.courier.demo;

import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.util.Map;

/** {@code GET /api/context-checks}: what {@link ContextChecks} saw. */
@Path("context-checks")
@RequestScoped
@Produces(MediaType.APPLICATION_JSON)
public class ContextChecksResource {

    @Inject
    ContextChecks checks;

    @GET
    public Map<String, Object> report() {
        return checks.report();
    }
}
