package dev.courier.redis;

import redis.clients.jedis.Protocol;

import java.util.ArrayList;
import java.util.List;

/**
 * Per-group leases on partition keys, as Protean keeps them: {@code <group>:<key>:__lease__} holds the fence token
 * {@code <owner>:<generation>} with a PX TTL, {@code <group>:<key>:__generation__} is INCRed on each acquisition and
 * never deleted, and the token is the consumer name in the key's stream. Every step that checks the token acts in
 * the same script, comparing the whole token, so that an owner whose lease moved can neither read nor acknowledge.
 * Each script takes many keys at once (one round trip per heartbeat, not one per key); with one key it does exactly
 * what Protean's does.
 */
final class PartitionLeases {

    /** KEYS: lease, generation, per key. ARGV: owner, ttl ms. Per key: the generation acquired, or 0 (held). */
    static final RedisConnection.LuaScript ACQUIRE = RedisConnection.LuaScript.of("""
            local out = {}
            for i = 1, #KEYS, 2 do
              if redis.call('GET', KEYS[i]) then
                out[#out + 1] = 0
              else
                local g = redis.call('INCR', KEYS[i + 1])
                redis.call('SET', KEYS[i], ARGV[1] .. ':' .. g, 'PX', ARGV[2])
                out[#out + 1] = g
              end
            end
            return out
            """);

    /** KEYS: leases. ARGV: ttl ms, then one token per lease. Per key: 1 renewed, 0 not held by that token. */
    static final RedisConnection.LuaScript RENEW = RedisConnection.LuaScript.of("""
            local out = {}
            for i = 1, #KEYS do
              if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
                out[i] = redis.call('PEXPIRE', KEYS[i], ARGV[1])
              else
                out[i] = 0
              end
            end
            return out
            """);

    /** KEYS: leases. ARGV: one token per lease. Compare-and-delete: per key 1 released, 0 not held by it. */
    static final RedisConnection.LuaScript RELEASE = RedisConnection.LuaScript.of("""
            local out = {}
            for i = 1, #KEYS do
              if redis.call('GET', KEYS[i]) == ARGV[i] then
                out[i] = redis.call('DEL', KEYS[i])
              else
                out[i] = 0
              end
            end
            return out
            """);

    /**
     * KEYS: lease, stream, per key. ARGV: group, then token, id ({@code 0} own pending, {@code >} new) and count per
     * key. Per key: {@code {0}} fenced (the lease is not the token's); {@code {1, lastId}} nothing to read, with the
     * stream's last entry id (every entry is delivered, so a blocking XREAD after it wakes for new ones only);
     * {@code {2, entries}}; {@code {3}} no such group (the stream was reaped).
     */
    static final RedisConnection.LuaScript READ = RedisConnection.LuaScript.of("""
            local out = {}
            local a = 2
            for i = 1, #KEYS, 2 do
              local token = ARGV[a]
              if redis.call('GET', KEYS[i]) ~= token then
                out[#out + 1] = {0}
              else
                local ok, r = pcall(redis.call, 'XREADGROUP', 'GROUP', ARGV[1], token, 'COUNT', ARGV[a + 2],
                                    'STREAMS', KEYS[i + 1], ARGV[a + 1])
                if not ok then
                  out[#out + 1] = {3}
                elseif r and r[1] and #r[1][2] > 0 then
                  out[#out + 1] = {2, r[1][2]}
                else
                  local last = redis.call('XREVRANGE', KEYS[i + 1], '+', '-', 'COUNT', 1)
                  out[#out + 1] = {1, last[1] and last[1][1] or '0-0'}
                end
              end
              a = a + 3
            end
            return out
            """);

    /**
     * KEYS: lease, stream, per key. ARGV: group, then per key its token, how many entry ids, and the ids. Per key: -1
     * fenced (nothing acknowledged), else what XACK acknowledged. With one id per key, Protean's fenced ack.
     */
    static final RedisConnection.LuaScript ACK = RedisConnection.LuaScript.of("""
            local out = {}
            local a = 2
            for i = 1, #KEYS, 2 do
              local n = tonumber(ARGV[a + 1])
              if redis.call('GET', KEYS[i]) ~= ARGV[a] then
                out[#out + 1] = -1
              else
                out[#out + 1] = redis.call('XACK', KEYS[i + 1], ARGV[1], unpack(ARGV, a + 2, a + 1 + n))
              end
              a = a + 2 + n
            end
            return out
            """);

    /**
     * KEYS: streams. ARGV: group, then one token per stream. Not fenced: after an acquisition, moves every earlier
     * generation's pending entries of each stream to its new token (XAUTOCLAIM from 0-0 until the cursor comes back to
     * 0-0). Per stream, the number moved. With one stream, what Protean does after an acquisition.
     */
    static final RedisConnection.LuaScript RECLAIM = RedisConnection.LuaScript.of("""
            local out = {}
            for i = 1, #KEYS do
              local moved, cursor = 0, '0-0'
              if redis.call('EXISTS', KEYS[i]) == 1 then
                repeat
                  local ok, r = pcall(redis.call, 'XAUTOCLAIM', KEYS[i], ARGV[1], ARGV[i + 1], 0, cursor,
                                      'COUNT', 100)
                  if not ok then
                    break
                  end
                  cursor = r[1]
                  moved = moved + #r[2]
                until cursor == '0-0' or #r[2] == 0
              end
              out[i] = moved
            end
            return out
            """);

    /**
     * KEYS: stream, index, lease, Courier's group set, the stream's backfill lane. ARGV: key, idle ms, token.
     * Protean's reap, by the owner only: a stream with entries qualifies when its last entry is at least idle ms older
     * than Redis TIME, it has at least one group, every group has nothing pending and has been given the last entry,
     * and (Courier's own rule) every Courier group known for the category has a group there. The stream and its lane
     * must both qualify (Protean checks the lane only with lanes on; Courier always, so that a lane written by
     * Protean is never lost to a Courier reap). Then SREM, DEL of the stream, its lane and the lease; the generation
     * stays. -1 fenced, 0 refused, 1 reaped.
     */
    static final RedisConnection.LuaScript REAP = RedisConnection.LuaScript.of("""
            redis.replicate_commands()
            if redis.call('GET', KEYS[3]) ~= ARGV[3] then
              return -1
            end
            local function before(a, b)
              local am, as = string.match(a, '^(%d+)-(%d+)$')
              local bm, bs = string.match(b, '^(%d+)-(%d+)$')
              am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
              return am < bm or (am == bm and as < bs)
            end
            local function cold(stream)
              local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
              if not last then
                return true
              end
              local t = redis.call('TIME')
              local now = t[1] * 1000 + math.floor(t[2] / 1000)
              if now - tonumber(string.match(last[1], '^(%d+)')) < tonumber(ARGV[2]) then
                return false
              end
              local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', stream)
              if not ok or #groups == 0 then
                return false
              end
              local names = {}
              for _, g in ipairs(groups) do
                local info = {}
                for i = 1, #g, 2 do
                  info[g[i]] = g[i + 1]
                end
                if info['pending'] ~= 0 or before(info['last-delivered-id'], last[1]) then
                  return false
                end
                names[info['name']] = true
              end
              for _, courier in ipairs(redis.call('SMEMBERS', KEYS[4])) do
                if not names[courier] then
                  return false
                end
              end
              return true
            end
            if not cold(KEYS[1]) or not cold(KEYS[5]) then
              return 0
            end
            redis.call('SREM', KEYS[2], ARGV[1])
            redis.call('DEL', KEYS[1], KEYS[5], KEYS[3])
            return 1
            """);

    private final RedisConnection connection;
    private final String group;
    /** WATCH, MGET or MULTI was refused (an ACL): reads go through {@link #READ}. */
    private volatile boolean scriptOnly;

    /** @param group the consumer group, also the leases' namespace; Protean's FQN when sharing a Protean group */
    PartitionLeases(RedisConnection connection, String group) {
        if (group.indexOf(':') >= 0) {
            throw new IllegalArgumentException("consumer group '" + group + "' of a partitioned stream contains "
                    + "':', which the lease keys <group>:<key>:__lease__ cannot hold");
        }
        this.connection = connection;
        this.group = group;
    }

    /** The lease of a key, which its backfill lane ({@code <key>:<suffix>}, read as a key here) shares. */
    static String lease(String group, String key) {
        int colon = key.indexOf(':');
        return group + ":" + (colon < 0 ? key : key.substring(0, colon)) + ":__lease__";
    }

    static String generation(String group, String key) {
        return group + ":" + key + ":__generation__";
    }

    /** Per key, the token acquired ({@code owner:generation}), or {@code null} where the lease is held. */
    List<String> acquire(String owner, List<String> keys, long ttlMs) {
        List<String> redisKeys = new ArrayList<>(keys.size() * 2);
        for (String key : keys) {
            redisKeys.add(lease(group, key));
            redisKeys.add(generation(group, key));
        }
        List<Object> replies = list(connection.eval("acquire leases", ACQUIRE, redisKeys,
                List.of(owner, Long.toString(ttlMs))));
        List<String> tokens = new ArrayList<>(keys.size());
        for (Object reply : replies) {
            long generation = ((Number) reply).longValue();
            tokens.add(generation == 0 ? null : owner + ":" + generation);
        }
        return tokens;
    }

    /** Per key, whether its lease was still the token's and is renewed. */
    boolean[] renew(List<String> keys, List<String> tokens, long ttlMs) {
        List<String> args = new ArrayList<>(tokens.size() + 1);
        args.add(Long.toString(ttlMs));
        args.addAll(tokens);
        return flags(connection.eval("renew leases", RENEW, leaseKeys(keys), args));
    }

    /** Compare-and-delete of each key's own token; per key whether it was released. */
    boolean[] release(List<String> keys, List<String> tokens) {
        return flags(connection.eval("release leases", RELEASE, leaseKeys(keys), tokens));
    }

    /**
     * The fenced read, replied as {@link #READ} does; {@code ids} per key {@code 0} or {@code >}, and for {@code >}
     * whether to ask for the stream's last entry id where nothing is read ({@code askLast}): if not, such a key's
     * reply is {@code {1}}, without an id (a key whose last read gave entries rarely needs it). Without a script,
     * whose replies Redis would convert to Lua and back for every entry: WATCH the leases and GET them, then read
     * only the keys still the token's in one MULTI/EXEC, which Redis aborts if any of those leases changed or
     * expired meanwhile: as atomic as the script. After a few aborts (renewals landing between), or where an ACL
     * refuses WATCH, MGET or MULTI, the script.
     */
    List<Object> read(String category, List<String> keys, List<String> tokens, List<String> ids, boolean[] askLast,
                      int[] counts) {
        List<String> leases = leaseKeys(keys);
        for (int attempt = 0; attempt < 3 && !scriptOnly; attempt++) {
            List<Object> replies = connection.executeOn("fenced XREADGROUP", leases.get(0).getBytes(
                    java.nio.charset.StandardCharsets.UTF_8), false, c -> watchedRead(c, category, keys, tokens, ids,
                    askLast, counts, leases));
            if (replies != null) {
                return replies;
            }
        }
        return readByScript(category, keys, tokens, ids, counts);
    }

    /** One WATCH, GET, MULTI/EXEC pass; null when EXEC was aborted. */
    private List<Object> watchedRead(redis.clients.jedis.Connection c, String category, List<String> keys,
                                     List<String> tokens, List<String> ids, boolean[] askLast, int[] counts,
                                     List<String> leases) {
        c.sendCommand(Protocol.Command.WATCH, leases.toArray(String[]::new));
        c.sendCommand(Protocol.Command.MGET, leases.toArray(String[]::new));
        c.sendCommand(Protocol.Command.MULTI);
        List<Object> first = c.getMany(3);
        if (first.get(0) instanceof Exception || first.get(1) instanceof Exception
                || first.get(2) instanceof Exception) {
            // Refused (an ACL without WATCH, MGET or MULTI): nothing was read; the script from now on.
            c.sendCommand(first.get(2) instanceof Exception ? Protocol.Command.UNWATCH : Protocol.Command.DISCARD);
            c.getOne();
            scriptOnly = true;
            return null;
        }
        List<Object> held = list(first.get(1));
        List<Object> out = new ArrayList<>(keys.size());
        List<Integer> reading = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            Object lease = held.get(i);
            boolean ours = lease instanceof byte[] b && tokens.get(i).equals(StreamEntries.utf8(b));
            out.add(ours ? null : List.of(0L));
            if (ours) {
                reading.add(i);
            }
        }
        if (reading.isEmpty()) {
            c.sendCommand(Protocol.Command.DISCARD); // and unwatches
            c.getOne();
            return out;
        }
        int queued = 0;
        for (int i : reading) {
            String stream = PartitionedStreams.stream(category, keys.get(i));
            c.sendCommand(Protocol.Command.XREADGROUP, "GROUP", group, tokens.get(i), "COUNT",
                    Integer.toString(counts[i]), "STREAMS", stream, ids.get(i));
            queued++;
            if (askLast[i] && ">".equals(ids.get(i))) {
                c.sendCommand(Protocol.Command.XREVRANGE, stream, "+", "-", "COUNT", "1");
                queued++;
            }
        }
        c.sendCommand(Protocol.Command.EXEC);
        List<Object> replies = c.getMany(queued + 1);
        Object exec = replies.get(replies.size() - 1);
        if (exec == null) {
            return null; // a lease changed between WATCH and EXEC
        }
        if (exec instanceof RuntimeException refused) {
            throw refused; // EXECABORT: nothing ran
        }
        List<Object> results = list(exec);
        int r = 0;
        for (int i : reading) {
            Object read = results.get(r++);
            boolean asked = askLast[i] && ">".equals(ids.get(i));
            out.set(i, readReply(read, asked ? results.get(r++) : null, asked));
        }
        return out;
    }

    /** One key's reply as {@link #READ} gives it, from its XREADGROUP reply and XREVRANGE's if it was asked. */
    private static List<Object> readReply(Object read, Object last, boolean asked) {
        if (read instanceof Exception) {
            return List.of(3L); // NOGROUP: the stream was reaped
        }
        List<Object> streams = list(read);
        if (!streams.isEmpty()) {
            List<Object> entries = list(list(streams.get(0)).get(1));
            if (!entries.isEmpty()) {
                return List.of(2L, entries);
            }
        }
        if (!asked) {
            return List.of(1L);
        }
        List<Object> lastEntry = last instanceof List<?> ? list(last) : List.of();
        return List.of(1L, lastEntry.isEmpty() ? StreamEntries.ZERO : list(lastEntry.get(0)).get(0));
    }

    /** The fenced read by {@link #READ}. */
    List<Object> readByScript(String category, List<String> keys, List<String> tokens, List<String> ids,
                              int[] counts) {
        List<String> redisKeys = new ArrayList<>(keys.size() * 2);
        List<String> args = new ArrayList<>(keys.size() * 3 + 1);
        args.add(group);
        for (int i = 0; i < keys.size(); i++) {
            redisKeys.add(lease(group, keys.get(i)));
            redisKeys.add(PartitionedStreams.stream(category, keys.get(i)));
            args.add(tokens.get(i));
            args.add(ids.get(i));
            args.add(Integer.toString(counts[i]));
        }
        return list(connection.eval("fenced XREADGROUP", READ, redisKeys, args));
    }

    /** Fenced XACK of one entry: -1 when the lease is no longer the token's (nothing acknowledged), else 0 or 1. */
    long ack(String category, String key, String token, String entryId) {
        return ack(category, List.of(key), List.of(token), List.of(List.of(entryId)))[0];
    }

    /** Fenced XACK of entries of each key, one XACK per key, in one script: per key -1 (fenced), else how many. */
    long[] ack(String category, List<String> keys, List<String> tokens, List<List<String>> entryIds) {
        List<String> redisKeys = new ArrayList<>(keys.size() * 2);
        List<String> args = new ArrayList<>(keys.size() * 3 + 1);
        args.add(group);
        for (int i = 0; i < keys.size(); i++) {
            redisKeys.add(lease(group, keys.get(i)));
            redisKeys.add(PartitionedStreams.stream(category, keys.get(i)));
            args.add(tokens.get(i));
            args.add(Integer.toString(entryIds.get(i).size()));
            args.addAll(entryIds.get(i));
        }
        List<Object> replies = list(connection.eval("fenced XACK", ACK, redisKeys, args));
        long[] acked = new long[replies.size()];
        for (int i = 0; i < acked.length; i++) {
            acked[i] = ((Number) replies.get(i)).longValue();
        }
        return acked;
    }

    /**
     * Moves earlier generations' pending entries of the keys' streams to their tokens, in one script; per key how
     * many.
     */
    long[] reclaim(String category, List<String> keys, List<String> tokens) {
        List<String> streams = new ArrayList<>(keys.size());
        for (String key : keys) {
            streams.add(PartitionedStreams.stream(category, key));
        }
        List<String> args = new ArrayList<>(tokens.size() + 1);
        args.add(group);
        args.addAll(tokens);
        List<Object> replies = list(connection.eval("XAUTOCLAIM (reclaim)", RECLAIM, streams, args));
        long[] moved = new long[replies.size()];
        for (int i = 0; i < moved.length; i++) {
            moved[i] = ((Number) replies.get(i)).longValue();
        }
        return moved;
    }

    /** {@link #REAP}: -1 fenced, 0 refused (not cold, or a group has not finished it), 1 reaped. */
    long reap(String category, String key, String token, long idleMs, String laneSuffix) {
        String stream = PartitionedStreams.stream(category, key);
        return ((Number) connection.eval("reap partition", REAP, List.of(stream,
                PartitionedStreams.index(category), lease(group, key), PartitionedStreams.courierGroups(category),
                stream + ":" + laneSuffix), List.of(key, Long.toString(idleMs), token))).longValue();
    }

    private List<String> leaseKeys(List<String> keys) {
        List<String> leases = new ArrayList<>(keys.size());
        for (String key : keys) {
            leases.add(lease(group, key));
        }
        return leases;
    }

    private static boolean[] flags(Object reply) {
        List<Object> replies = list(reply);
        boolean[] flags = new boolean[replies.size()];
        for (int i = 0; i < flags.length; i++) {
            flags[i] = ((Number) replies.get(i)).longValue() == 1;
        }
        return flags;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object reply) {
        return reply == null ? List.of() : (List<Object>) reply;
    }
}
