package dev.courier.demo;

import dev.courier.Broker;
import dev.courier.BrokerConnectionException;
import dev.courier.DeadLetter;
import dev.courier.PublishOutcomeUnknownException;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import java.util.List;
import java.util.Map;

/**
 * Publish to a stream, see what the subscriber received, list a stream's dead letters.
 *
 * <pre>
 * curl -X POST -H 'Content-Type: application/json' -d '{"event_type":"order.placed","order_id":"42"}' \
 *      http://localhost:9080/api/streams/orders
 * curl http://localhost:9080/api/received
 * curl http://localhost:9080/api/dead-letters/orders
 * </pre>
 */
@Path("/")
@RequestScoped
@Produces(MediaType.APPLICATION_JSON)
public class DemoResource {

    @Inject
    Broker broker;   // the default broker: brokers.default.provider

    @Inject
    Inbox inbox;

    /**
     * Publishes the JSON object in the body; answers {@code {"id": "<message id>"}}. The body is taken as text and
     * given to the broker as it is (a {@code String} message is parsed by Courier), so that an empty body, invalid
     * JSON or a JSON value that is not an object gets a 400 with the reason, on every server, rather than the
     * server's own error page.
     */
    @POST
    @Path("streams/{stream}")
    @Consumes(MediaType.APPLICATION_JSON)
    public Response publish(@PathParam("stream") String stream, String body) {
        try {
            if (body == null || body.isBlank()) {
                throw new IllegalArgumentException("the request body is empty; send a non-empty JSON object");
            }
            return Response.ok(Map.of("id", broker.publish(stream, body), "stream", stream)).build();
        } catch (IllegalArgumentException e) {          // not a non-empty JSON object: nothing was sent
            return error(Response.Status.BAD_REQUEST, "not sent", e);
        } catch (BrokerConnectionException e) {         // the broker cannot be reached: nothing was sent
            return error(Response.Status.SERVICE_UNAVAILABLE, "not sent", e);
        } catch (PublishOutcomeUnknownException e) {    // sent, but not confirmed: it may have been stored
            return error(Response.Status.GATEWAY_TIMEOUT, "unknown", e);
        }
    }

    /** What the subscriber handled or failed, oldest first. */
    @GET
    @Path("received")
    public List<Inbox.Entry> received() {
        return inbox.entries();
    }

    /** The stream's dead letters, newest first. */
    @GET
    @Path("dead-letters/{stream}")
    public List<DeadLetter> deadLetters(@PathParam("stream") String stream,
                                        @QueryParam("limit") @DefaultValue("100") int limit) {
        return broker.deadLetters(stream, limit);
    }

    /** {@code {"error": "<reason>", "outcome": "not sent" | "unknown"}}. */
    private static Response error(Response.Status status, String outcome, RuntimeException e) {
        return Response.status(status).type(MediaType.APPLICATION_JSON_TYPE)
                .entity(Map.of("error", String.valueOf(e.getMessage()), "outcome", outcome)).build();
    }
}
