package dev.courier.demo;

import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.util.Map;

/** {@code GET /api/parallel}: what {@link ParallelSubscriber} did. */
@Path("parallel")
@RequestScoped
public class ParallelResource {

    @Inject
    ParallelLog log;

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public Map<String, Object> get() {
        return log.snapshot();
    }
}
