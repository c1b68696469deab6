package dev.courier.redis;

import dev.courier.HealthStats;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A Sentinel set's view of the master it watches: SENTINEL MASTER and SENTINEL REPLICAS from the first Sentinel that
 * answers, and how many of the configured Sentinels answer at all (each asked on a short connection of its own: a
 * health check is rare, and the data nodes' pools must not carry the Sentinels' credentials).
 *
 * <ul>
 *   <li>UNHEALTHY while the Sentinels see the master down ({@code s_down}, {@code o_down}) or fail it over, or no
 *       Sentinel answers;</li>
 *   <li>DEGRADED while a replica is down or not in sync, or a Sentinel does not answer;</li>
 * </ul>
 */
final class SentinelTopology {

    private static final Set<String> DOWN = Set.of("s_down", "o_down", "disconnected");

    private SentinelTopology() {
    }

    /**
     * Asks each of {@code sentinels} (with {@code sentinelConfig}, the Sentinels' own credentials) about the master,
     * and the master (through the data nodes' client) for the replicas it has online.
     */
    static TopologyHealth read(String masterName, List<HostAndPort> sentinels, JedisClientConfig sentinelConfig,
                               Supplier<String> masterReplicationInfo) {
        Map<String, String> master = null;
        List<Map<String, String>> replicas = List.of();
        int answering = 0;
        for (HostAndPort sentinel : sentinels) {
            try (Jedis jedis = new Jedis(sentinel, sentinelConfig)) {
                if (master == null) {
                    Map<String, String> m = jedis.sentinelMaster(masterName);
                    replicas = jedis.sentinelReplicas(masterName);
                    master = m;
                } else {
                    jedis.ping();
                }
                answering++;
            } catch (RuntimeException e) {
                // not answering, or not watching this master: counted out
            }
        }
        Set<String> online = null;
        if (master != null) {
            try {
                online = TopologyHealth.onlineReplicas(masterReplicationInfo.get());
            } catch (RuntimeException e) {
                // the master does not answer: the Sentinels' flags tell
            }
        }
        return of(masterName, master, replicas, online, answering, sentinels.size());
    }

    /**
     * The topology from one Sentinel's SENTINEL MASTER ({@code null}: none answered) and SENTINEL REPLICAS, and the
     * replicas the master lists online ({@code null}: it did not answer).
     */
    static TopologyHealth of(String masterName, Map<String, String> master, List<Map<String, String>> replicas,
                       Set<String> online, int answering, int configured) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("topology", "sentinel");
        details.put("master_name", masterName);
        details.put("sentinels", (long) configured);
        details.put("sentinels_reachable", (long) answering);
        if (master == null) {
            details.put("failover_in_progress", false);
            return new TopologyHealth(HealthStats.Status.UNHEALTHY, false, details);
        }
        List<String> masterFlags = flags(master);
        boolean failover = masterFlags.contains("failover_in_progress") || masterFlags.contains("o_down");
        boolean masterDown = failover || masterFlags.stream().anyMatch(DOWN::contains);
        details.put("master", address(master));
        details.put("master_flags", String.join(",", masterFlags));
        details.put("quorum", RedisConnection.parseLong(master.get("quorum")));
        boolean replicaMissing = false;
        List<Map<String, Object>> replicaDetails = new ArrayList<>();
        for (Map<String, String> replica : replicas) {
            List<String> f = flags(replica);
            // A Sentinel refreshes a replica's master-link-status only every 10 s: the master's own list is fresher.
            boolean up = f.stream().noneMatch(DOWN::contains) && (online != null ? online.contains(address(replica))
                    : "ok".equals(replica.get("master-link-status")));
            replicaMissing |= !up;
            replicaDetails.add(Map.of("node", address(replica), "flags", String.join(",", f), "in_sync", up));
        }
        details.put("replicas", replicaDetails);
        details.put("failover_in_progress", failover);
        HealthStats.Status status = masterDown ? HealthStats.Status.UNHEALTHY
                : replicaMissing || answering < configured ? HealthStats.Status.DEGRADED
                : HealthStats.Status.HEALTHY;
        return new TopologyHealth(status, failover, details);
    }

    private static List<String> flags(Map<String, String> node) {
        return List.of(node.getOrDefault("flags", "").split(","));
    }

    private static String address(Map<String, String> node) {
        return node.getOrDefault("ip", "?") + ":" + node.getOrDefault("port", "?");
    }
}
