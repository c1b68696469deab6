package dev.courier.testing;

import dev.courier.Broker;
import dev.courier.engine.Engine;
import dev.courier.engine.LoopStatus;

import java.util.Map;

/** Reads what the inline broker and the engine report, for assertions. */
public final class Inspect {

    private Inspect() {
    }

    /** A figure of an inline broker's consumer group (info()): in_flight, lag, position, waiting_retry. */
    @SuppressWarnings("unchecked")
    public static int group(Broker broker, String stream, String group, String figure) {
        Map<String, Object> streams = (Map<String, Object>) broker.info().get("streams");
        Map<String, Object> s = (Map<String, Object>) streams.get(stream);
        if (s == null) {
            return 0;
        }
        Map<String, Object> g = (Map<String, Object>) ((Map<String, Object>) s.get("groups")).get(group);
        return g == null ? 0 : ((Number) g.get(figure)).intValue();
    }

    /** Messages a group holds: read, not yet acknowledged or rejected. */
    public static int inFlight(Broker broker, String stream, String group) {
        return group(broker, stream, group, "in_flight");
    }

    /** Messages published to the stream that the group has not read yet. */
    public static int lag(Broker broker, String stream, String group) {
        return group(broker, stream, group, "lag");
    }

    /** The status of the engine's loop on this stream and group. */
    public static LoopStatus loop(Engine engine, String stream, String group) {
        return engine.status().loops().stream()
                .filter(l -> l.stream().equals(stream) && l.group().equals(group))
                .findFirst().orElseThrow(() -> new AssertionError("no loop on " + stream + "/" + group + " in "
                        + engine.status()));
    }
}
