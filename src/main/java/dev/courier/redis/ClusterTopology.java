package dev.courier.redis;

import dev.courier.HealthStats;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionPool;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.util.JedisClusterCRC16;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A Redis Cluster's topology as its nodes report it: CLUSTER NODES from the first node that answers (its view of
 * roles, slots and failure flags), and INFO replication from every master (a master killed a moment ago answers
 * nothing well before the others flag it {@code fail?}, and its slots are then as good as masterless; the replicas
 * it lists online are the ones in sync).
 *
 * <ul>
 *   <li>UNHEALTHY while a slot has no master that answers: a failover is in progress (or the slot is not served);</li>
 *   <li>DEGRADED while a node is down or flagged failing (a replica missing, a failed master not back as a
 *       replica);</li>
 *   <li>each known stream's slot and the node that serves it.</li>
 * </ul>
 */
final class ClusterTopology {

    static final int SLOTS = 16384;

    /** One line of CLUSTER NODES. */
    record Node(String id, String address, boolean master, String masterId, boolean flaggedFailing,
                List<int[]> slots) {

        /** {@code <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...} */
        static Node parse(String line, String askedAddress) {
            String[] f = line.trim().split(" ");
            String ipPort = f[1].substring(0, f[1].indexOf('@') < 0 ? f[1].length() : f[1].indexOf('@'));
            List<String> flags = List.of(f[2].split(","));
            // Before it has learnt its own address a node shows itself as ":port".
            String address = ipPort.startsWith(":") && flags.contains("myself") ? askedAddress : ipPort;
            List<int[]> slots = new ArrayList<>();
            for (int i = 8; i < f.length; i++) {
                if (f[i].startsWith("[")) {
                    continue; // a slot being imported or migrated: its owner is listed with a plain range
                }
                String[] range = f[i].split("-");
                int from = Integer.parseInt(range[0]);
                slots.add(new int[] {from, range.length > 1 ? Integer.parseInt(range[1]) : from});
            }
            return new Node(f[0], address, flags.contains("master"), f[3],
                    flags.contains("fail") || flags.contains("fail?") || flags.contains("noaddr"), slots);
        }

        boolean serves(int slot) {
            return slots.stream().anyMatch(r -> slot >= r[0] && slot <= r[1]);
        }

        String slotRanges() {
            return String.join(",", slots.stream().map(r -> r[0] == r[1] ? "" + r[0] : r[0] + "-" + r[1]).toList());
        }
    }

    private ClusterTopology() {
    }

    /**
     * Reads the topology through the cluster client's pools, one per node it knows ({@code host:port} to pool).
     *
     * @throws redis.clients.jedis.exceptions.JedisException no node answers CLUSTER NODES
     */
    static TopologyHealth read(Map<String, ConnectionPool> pools, Collection<String> streams) {
        String nodes = null;
        String asked = null;
        RuntimeException last = null;
        for (Map.Entry<String, ConnectionPool> pool : pools.entrySet()) {
            try (Connection connection = pool.getValue().getResource()) {
                nodes = new Jedis(connection).clusterNodes();
                asked = pool.getKey();
                break;
            } catch (RuntimeException e) {
                last = e;
            }
        }
        if (nodes == null) {
            throw last != null ? last : new IllegalStateException("the cluster client knows no node");
        }
        List<Node> parsed = new ArrayList<>();
        for (String line : nodes.split("\n")) {
            if (!line.isBlank()) {
                parsed.add(Node.parse(line, asked));
            }
        }
        // A master is reachable if it answers INFO replication; a replica if its master lists it online (the
        // client keeps no pool for replicas). Where the client has no pool, the cluster's flags tell.
        Map<String, Boolean> reachable = new TreeMap<>();
        Map<String, Set<String>> online = new HashMap<>();
        for (Node node : parsed) {
            if (node.master()) {
                ConnectionPool pool = pools.get(node.address());
                String info = node.flaggedFailing() || pool == null ? null : replicationInfo(pool);
                reachable.put(node.address(), !node.flaggedFailing() && (pool == null || info != null));
                if (info != null) {
                    online.put(node.id(), TopologyHealth.onlineReplicas(info));
                }
            }
        }
        for (Node node : parsed) {
            if (!node.master()) {
                Set<String> listed = online.get(node.masterId());
                reachable.put(node.address(), listed == null ? !node.flaggedFailing() : listed.contains(node.address()));
            }
        }
        return of(parsed, reachable, streams);
    }

    /** INFO replication, or {@code null} if the node does not answer (tried twice: a pooled connection may be stale). */
    private static String replicationInfo(ConnectionPool pool) {
        for (int attempt = 0; attempt < 2; attempt++) {
            try (Connection connection = pool.getResource()) {
                return new Jedis(connection).info("replication");
            } catch (RuntimeException e) {
                // a broken connection is dropped from the pool: the second attempt connects anew
            }
        }
        return null;
    }

    /** The topology from parsed CLUSTER NODES and which addresses answered a PING. */
    static TopologyHealth of(List<Node> nodes, Map<String, Boolean> reachable, Collection<String> streams) {
        List<Map<String, Object>> masters = new ArrayList<>();
        List<String> down = new ArrayList<>();
        boolean[] served = new boolean[SLOTS];
        boolean masterDown = false;
        for (Node node : nodes) {
            boolean up = reachable.getOrDefault(node.address(), false);
            if (!up) {
                down.add(node.address());
            }
            if (!node.master() || node.slots().isEmpty()) {
                continue; // a replica, or a failed master whose slots its replica took over
            }
            if (up) {
                node.slots().forEach(r -> java.util.Arrays.fill(served, r[0], r[1] + 1, true));
            } else {
                masterDown = true;
            }
            List<Map<String, Object>> replicas = new ArrayList<>();
            for (Node replica : nodes) {
                if (!replica.master() && replica.masterId().equals(node.id())) {
                    replicas.add(Map.of("node", replica.address(),
                            "reachable", reachable.getOrDefault(replica.address(), false)));
                }
            }
            Map<String, Object> master = new LinkedHashMap<>();
            master.put("node", node.address());
            master.put("slots", node.slotRanges());
            master.put("reachable", up);
            master.put("replicas", replicas);
            masters.add(master);
        }
        int unserved = 0;
        for (boolean s : served) {
            unserved += s ? 0 : 1;
        }
        Map<String, Object> streamSlots = new TreeMap<>();
        for (String stream : streams) {
            int slot = JedisClusterCRC16.getSlot(stream);
            String node = nodes.stream().filter(n -> n.master() && n.serves(slot)).map(Node::address)
                    .findFirst().orElse("none");
            streamSlots.put(stream, Map.of("slot", (long) slot, "node", node));
        }
        HealthStats.Status status = unserved > 0 ? HealthStats.Status.UNHEALTHY
                : down.isEmpty() ? HealthStats.Status.HEALTHY : HealthStats.Status.DEGRADED;
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("topology", "cluster");
        details.put("masters", masters);
        details.put("nodes_down", down);
        details.put("slots_without_master", (long) unserved);
        details.put("failover_in_progress", masterDown);
        details.put("stream_slots", streamSlots);
        return new TopologyHealth(status, masterDown, details);
    }
}
