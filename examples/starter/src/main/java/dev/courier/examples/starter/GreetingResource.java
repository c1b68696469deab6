package dev.courier.examples.starter;

import dev.courier.Broker;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.util.List;
import java.util.Map;

/**
 * {@code POST /api/greetings {"name": "Ada"}} publishes a greeting request to the stream {@code greetings};
 * {@code GET /api/greetings} shows the greetings the subscriber has made.
 */
@Path("/greetings")
@ApplicationScoped
@Produces(MediaType.APPLICATION_JSON)
public class GreetingResource {

    @Inject
    Broker broker;          // the default broker (brokers.default.provider)

    @Inject
    Greetings greetings;

    /** Publishes the request; answers {@code {"id": "<message id>"}}. */
    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Map<String, String> request(Greeting greeting) {
        String id = broker.publish("greetings", Map.of("event_type", "greeting.requested", "name", greeting.name()));
        return Map.of("id", id);
    }

    @GET
    public List<String> made() {
        return greetings.all();
    }
}
