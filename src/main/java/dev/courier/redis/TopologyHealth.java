package dev.courier.redis;

import dev.courier.HealthStats;

import java.util.Map;

/**
 * What a Redis Cluster or a Sentinel set reports of its nodes, for a broker's health: the status it allows and the
 * facts that go into the health details (node addresses and roles, never credentials).
 *
 * @param status             HEALTHY; DEGRADED while a node is missing (writes still work); UNHEALTHY while some
 *                           key has no master to write to
 * @param failoverInProgress a master is down and no replica has taken over yet
 * @param details            what goes into the health details, under these keys
 */
record TopologyHealth(HealthStats.Status status, boolean failoverInProgress, Map<String, Object> details) {

    TopologyHealth {
        details = Map.copyOf(details);
    }

    /**
     * The replicas ({@code ip:port}) that a master's INFO replication lists as {@code state=online}: connected and
     * past their first sync. The master's own list is the freshest view (a Sentinel refreshes its own every 10 s).
     */
    static java.util.Set<String> onlineReplicas(String infoReplication) {
        java.util.Set<String> online = new java.util.TreeSet<>();
        for (String line : infoReplication.split("\r?\n")) {
            // slave0:ip=127.0.0.1,port=7004,state=online,offset=1234,lag=0
            if (line.startsWith("slave") && line.contains(":ip=")) {
                Map<String, String> fields = new java.util.HashMap<>();
                for (String field : line.substring(line.indexOf(':') + 1).trim().split(",")) {
                    int eq = field.indexOf('=');
                    if (eq > 0) {
                        fields.put(field.substring(0, eq), field.substring(eq + 1));
                    }
                }
                if ("online".equals(fields.get("state"))) {
                    online.add(fields.get("ip") + ":" + fields.get("port"));
                }
            }
        }
        return online;
    }

    /**
     * A cluster's or Sentinel set's nodes, read through {@code connection}, into {@code details}; the status they
     * allow (HEALTHY on one node). UNHEALTHY when no node or Sentinel answers, with the error's type only: its text
     * may name a node's credentials.
     */
    static HealthStats.Status into(RedisConnection connection, java.util.Collection<String> streams,
                                   Map<String, Object> details) {
        try {
            TopologyHealth topology = connection.topology(streams);
            if (topology == null) {
                return HealthStats.Status.HEALTHY;
            }
            details.putAll(topology.details());
            return topology.status();
        } catch (RuntimeException e) {
            details.put("topology_error", e.getClass().getSimpleName());
            return HealthStats.Status.UNHEALTHY;
        }
    }

    /** The worse of two statuses. */
    static HealthStats.Status worse(HealthStats.Status a, HealthStats.Status b) {
        return a.compareTo(b) >= 0 ? a : b;
    }
}
