package dev.courier.redis;

import dev.courier.redis.RedisConnection.LuaScript;
import dev.courier.redis.RedisConnection.RedisReplyException;
import redis.clients.jedis.StreamEntryID;

import java.lang.System.Logger.Level;
import java.util.List;

/**
 * A group's lag where {@code XINFO GROUPS} gives none (Redis 6 has no lag field; Redis 7 reports it null for a group
 * created at an arbitrary id, or after deletions in the part it has not read): the entries after the group's
 * last-delivered-id, counted by Redis, never guessed. Counted on the side of the last-delivered-id that holds fewer
 * entries, and only up to {@value #LIMIT} entries each side: past that, unknown (-1).
 */
final class GroupLag {

    private static final System.Logger LOG = System.getLogger("dev.courier");

    /** How many entries a count visits at most on each side: about a millisecond of Redis's time. */
    static final int LIMIT = 1000;

    /**
     * KEYS[1] the stream; ARGV[1] the id after the last-delivered-id, ARGV[2] the last-delivered-id, ARGV[3] the
     * limit. The entries after it if fewer than the limit, else the length less the entries up to it if those are
     * fewer, else -1. One script, so that no XADD comes between the counts.
     */
    private static final LuaScript COUNT = LuaScript.of("""
            local limit = tonumber(ARGV[3])
            local after = #redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', limit)
            if after < limit then return after end
            local before = #redis.call('XREVRANGE', KEYS[1], ARGV[2], '-', 'COUNT', limit)
            if before < limit then return redis.call('XLEN', KEYS[1]) - before end
            return -1
            """);

    private final String name;
    private final RedisConnection connection;
    /** False once Redis refused the script (no EVAL in the user's ACL, say): the lag is then unknown. */
    private volatile boolean countable = true;

    GroupLag(String name, RedisConnection connection) {
        this.name = name;
        this.connection = connection;
    }

    /** The entries of {@code stream} after {@code lastDelivered}; -1 when unknown. */
    long count(String stream, StreamEntryID lastDelivered) {
        if (!countable || lastDelivered == null) {
            return -1;
        }
        try {
            Object n = connection.eval("XRANGE", COUNT, List.of(stream),
                    List.of(next(lastDelivered), lastDelivered.toString(), Integer.toString(LIMIT)));
            return n instanceof Long count ? count : -1;
        } catch (RedisReplyException e) {
            countable = false;
            LOG.log(Level.INFO, "broker ''{0}'': a group''s lag that XINFO GROUPS does not give is left unknown: {1}",
                    name, e.reply());
            return -1;
        }
    }

    /** The least id after {@code id} (Redis 6.0 has no exclusive range). */
    static String next(StreamEntryID id) {
        return id.getSequence() == Long.MAX_VALUE ? (id.getTime() + 1) + "-0"
                : id.getTime() + "-" + (id.getSequence() + 1);
    }
}
