package dev.courier.testing;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** Redis replies as {@link RedisServer#command} gives them (bulk strings as bytes), read as text and lists. */
public final class Replies {

    private Replies() {
    }

    public static String text(Object reply) {
        return reply instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : String.valueOf(reply);
    }

    @SuppressWarnings("unchecked")
    public static List<Object> list(Object reply) {
        return (List<Object>) reply;
    }
}
