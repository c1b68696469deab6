package dev.courier.redis;

import dev.courier.Partitions;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A group's halted keys in Redis, so that an operator lists and resolves them from any instance: the hash
 * {@code <group>:__halted__} (no partition key takes the {@code __x__} form) holds, per key, the record
 * {@code <entryId> <attempts> <request> <token>}, written by the owner, whose token it is. An operator elsewhere
 * writes a request ({@code SKIP}, {@code DEAD_LETTER}, {@code RETRY}) into it; the owner carries it out at its next
 * heartbeat, through its own fenced steps, and removes the record. A record whose token no longer holds the lease
 * (its owner crashed, or the lease was deleted as in Protean's manual way) is stale: never listed, and removed.
 */
final class SharedHalts {

    /** The record's request when there is none. */
    static final String NO_REQUEST = "-";

    /**
     * KEYS: the hash, the key's lease. ARGV: key, request. 1 when the key is halted under a live lease and the request
     * is written; 0 when it is not halted (a stale record is removed).
     */
    static final RedisConnection.LuaScript REQUEST = RedisConnection.LuaScript.of("""
            local v = redis.call('HGET', KEYS[1], ARGV[1])
            if not v then
              return 0
            end
            local entry, attempts, token = string.match(v, '^(%S+) (%S+) %S+ (.*)$')
            if redis.call('GET', KEYS[2]) ~= token then
              redis.call('HDEL', KEYS[1], ARGV[1])
              return 0
            end
            redis.call('HSET', KEYS[1], ARGV[1], entry .. ' ' .. attempts .. ' ' .. ARGV[2] .. ' ' .. token)
            return 1
            """);

    /** KEYS: the hash. ARGV: key, token. Removes the key's record if it is the token's (a newer one stays). */
    static final RedisConnection.LuaScript CLEAR = RedisConnection.LuaScript.of("""
            local v = redis.call('HGET', KEYS[1], ARGV[1])
            if v and string.match(v, '^%S+ %S+ %S+ (.*)$') == ARGV[2] then
              return redis.call('HDEL', KEYS[1], ARGV[1])
            end
            return 0
            """);

    /** One key's record. */
    record Halt(String key, String entryId, int attempts, String request, String token) {

        static Halt parse(String key, String value) {
            String[] parts = value.split(" ", 4);
            return new Halt(key, parts[0], Integer.parseInt(parts[1]), parts[2], parts[3]);
        }

        String value() {
            return entryId + " " + attempts + " " + request + " " + token;
        }
    }

    private final RedisConnection connection;
    private final String group;

    SharedHalts(RedisConnection connection, String group) {
        this.connection = connection;
        this.group = group;
    }

    static String hash(String group) {
        return group + ":__halted__";
    }

    /** Writes the owner's record of a halt (no request). */
    void publish(Halt halt) {
        connection.execute("HSET (halted)", j -> j.hset(hash(group), halt.key(), halt.value()));
    }

    /** The records of the keys, null where there is none. */
    List<Halt> records(List<String> keys) {
        List<String> values = connection.execute("HMGET (halted)", j -> j.hmget(hash(group),
                keys.toArray(String[]::new)));
        List<Halt> out = new ArrayList<>(keys.size());
        for (int i = 0; i < keys.size(); i++) {
            out.add(values.get(i) == null ? null : Halt.parse(keys.get(i), values.get(i)));
        }
        return out;
    }

    /** Removes the key's record if it is the token's: the halt ended. */
    void clear(String key, String token) {
        connection.eval("clear halt", CLEAR, List.of(hash(group)), List.of(key, token));
    }

    /** Asks the key's owner to carry out the resolution: whether the key is halted (and the request written). */
    boolean request(String key, HaltedKeys.Resolution resolution) {
        return ((Number) connection.eval("request halt resolution", REQUEST, List.of(hash(group),
                PartitionLeases.lease(group, key)), List.of(key, resolution.name()))).longValue() == 1;
    }

    /**
     * The group's halted keys in every instance: {@code local} (this instance's, the freshest) and the records whose
     * token still holds its lease; stale records are removed.
     */
    List<Partitions.HaltedKey> list(String category, List<Partitions.HaltedKey> local) {
        Map<String, Partitions.HaltedKey> out = new LinkedHashMap<>();
        local.forEach(h -> out.put(h.key(), h));
        Map<String, String> all = connection.execute("HGETALL (halted)", j -> j.hgetAll(hash(group)));
        if (all.isEmpty()) {
            return List.copyOf(out.values());
        }
        List<Halt> halts = new ArrayList<>(all.size());
        all.forEach((key, value) -> halts.add(Halt.parse(key, value)));
        List<String> leases = connection.execute("MGET (leases)", j -> j.mget(halts.stream()
                .map(h -> PartitionLeases.lease(group, h.key())).toArray(String[]::new)));
        for (int i = 0; i < halts.size(); i++) {
            Halt h = halts.get(i);
            if (!h.token().equals(leases.get(i))) {
                clear(h.key(), h.token());
            } else {
                out.putIfAbsent(h.key(), new Partitions.HaltedKey(category, group, h.key(),
                        PartitionReader.messageId(h.key(), h.entryId()), h.attempts()));
            }
        }
        return List.copyOf(out.values());
    }

    /**
     * How many keys of the group are halted in any instance: the records whose token still holds its lease (a stale
     * one is not counted, and left for {@link #list} to remove). One HLEN while none is halted.
     */
    int count() {
        long records = connection.execute("HLEN (halted)", j -> j.hlen(hash(group)));
        if (records == 0) {
            return 0;
        }
        Map<String, String> all = connection.execute("HGETALL (halted)", j -> j.hgetAll(hash(group)));
        if (all.isEmpty()) {
            return 0;
        }
        List<Halt> halts = new ArrayList<>(all.size());
        all.forEach((key, value) -> halts.add(Halt.parse(key, value)));
        List<String> leases = connection.execute("MGET (leases)", j -> j.mget(halts.stream()
                .map(h -> PartitionLeases.lease(group, h.key())).toArray(String[]::new)));
        int live = 0;
        for (int i = 0; i < halts.size(); i++) {
            live += halts.get(i).token().equals(leases.get(i)) ? 1 : 0;
        }
        return live;
    }
}
