package dev.courier.internal.engine;

import dev.courier.Broker;

import java.util.Map;

/**
 * The groups' lag, pending entries and consumers, as a broker's {@link Broker#info()} reports them: Redis from
 * {@code XINFO GROUPS} (its lag, else the entries after the group's last-delivered-id counted, up to a bound; past
 * it unknown rather than guessed), inline from its memory. Anything the broker does not tell is {@code null}.
 */
final class Backlog {

    static final Backlog NONE = new Backlog(Map.of());

    private final Map<?, ?> streams;

    private Backlog(Map<?, ?> streams) {
        this.streams = streams;
    }

    /** Asks the broker once; a broker that fails tells nothing. */
    static Backlog of(Broker broker) {
        try {
            return broker.info().get("streams") instanceof Map<?, ?> streams ? new Backlog(streams) : NONE;
        } catch (RuntimeException e) {
            return NONE;
        }
    }

    Group group(String stream, String group) {
        if (streams.get(stream) instanceof Map<?, ?> s && s.get("groups") instanceof Map<?, ?> groups
                && groups.get(group) instanceof Map<?, ?> g) {
            Object pending = g.containsKey("pending") ? g.get("pending") : g.get("in_flight");
            Object consumers = g.get("consumers");
            return new Group(count(g.get("lag")), count(pending),
                    consumers instanceof java.util.Collection<?> list ? Integer.valueOf(list.size())
                            : consumers instanceof Number n ? Integer.valueOf(n.intValue()) : null);
        }
        return new Group(null, null, null);
    }

    /** A count the broker reported; a negative one (Redis: lag unknown) is none. */
    private static Long count(Object value) {
        return value instanceof Number n && n.longValue() >= 0 ? n.longValue() : null;
    }

    record Group(Long lag, Long pending, Integer consumers) {
    }
}
