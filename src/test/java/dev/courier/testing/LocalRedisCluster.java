package dev.courier.testing;

import org.awaitility.core.ConditionTimeoutException;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.exceptions.JedisConnectionException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;

import static org.awaitility.Awaitility.await;

/**
 * A real Redis Cluster on 127.0.0.1: {@code masters} masters, each with one replica (or more), every node a
 * {@code redis-server --cluster-enabled yes} process of this JVM (so each has its watchdog). The slots are spread
 * evenly over the masters and the nodes joined with CLUSTER ADDSLOTS, MEET and REPLICATE, as
 * {@code redis-cli --cluster create} does, without needing redis-cli. Start one per test class: forming it takes a
 * few seconds.
 */
public final class LocalRedisCluster implements AutoCloseable {

    /** Slots in a Redis Cluster. */
    public static final int SLOTS = 16384;

    /** How long a node may be unreachable before the others fail it over: short, so that tests see failovers. */
    static final int NODE_TIMEOUT_MS = 2000;

    private final List<LocalRedisServer> nodes;

    private LocalRedisCluster(List<LocalRedisServer> nodes) {
        this.nodes = nodes;
    }

    /** Starts and joins {@code masters} masters (at least 3, as Redis Cluster needs) and one replica of each. */
    public static LocalRedisCluster start(int masters) {
        return start(masters, 1);
    }

    /**
     * Starts and joins {@code masters} masters and {@code replicas} replicas of each: with two, a master failed over
     * still has a replica (for {@code WAIT 1}).
     */
    public static LocalRedisCluster start(int masters, int replicas) {
        if (masters < 3) {
            throw new IllegalArgumentException("a cluster needs at least 3 masters, not " + masters);
        }
        List<LocalRedisServer> nodes = new ArrayList<>();
        LocalRedisCluster cluster = new LocalRedisCluster(nodes);
        try {
            for (int i = 0; i < (1 + replicas) * masters; i++) {
                nodes.add(LocalRedisServer.launch(false, List.of("--cluster-enabled", "yes",
                        "--cluster-config-file", "nodes.conf",
                        "--cluster-node-timeout", Integer.toString(NODE_TIMEOUT_MS))));
            }
            cluster.join(masters, replicas);
            return cluster;
        } catch (IOException | RuntimeException e) {
            cluster.close();
            throw new IllegalStateException("cannot start a Redis Cluster: " + e.getMessage(), e);
        }
    }

    private void join(int masters, int replicas) {
        for (int m = 0; m < masters; m++) {
            int from = m * SLOTS / masters;
            int to = (m + 1) * SLOTS / masters;
            List<String> command = new ArrayList<>(List.of("CLUSTER", "ADDSLOTS"));
            IntStream.range(from, to).forEach(slot -> command.add(Integer.toString(slot)));
            nodes.get(m).command(command.toArray(String[]::new));
        }
        for (LocalRedisServer node : nodes.subList(1, nodes.size())) {
            nodes.get(0).command("CLUSTER", "MEET", node.host(), Integer.toString(node.port()));
        }
        await("every node knows every other").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                .until(() -> nodes.stream().allMatch(n -> clusterNodes(n).size() == nodes.size()));
        for (int r = 0; r < masters * replicas; r++) {
            String masterId = text(nodes.get(r % masters).command("CLUSTER", "MYID"));
            nodes.get(masters + r).command("CLUSTER", "REPLICATE", masterId);
        }
        awaitHealthy(Duration.ofSeconds(30));
    }

    /**
     * Waits until every running node reports {@code cluster_state:ok} and every slot has a master whose replicas
     * are all in sync. After a failover that means the old master came back as a replica, or is gone.
     */
    public void awaitHealthy(Duration timeout) {
        try {
            // A restarted node that turns into a replica closes its clients' connections: not healthy yet.
            await().atMost(timeout).pollInterval(Duration.ofMillis(50))
                    .ignoreExceptionsInstanceOf(JedisConnectionException.class).until(this::healthy);
        } catch (ConditionTimeoutException e) {
            throw new IllegalStateException("the cluster is not healthy within " + timeout + ": "
                    + running().stream().map(n -> n.port() + " " + clusterNodes(n)).toList(), e);
        }
    }

    private boolean healthy() {
        for (LocalRedisServer node : running()) {
            if (!text(node.command("CLUSTER", "INFO")).contains("cluster_state:ok")) {
                return false;
            }
            String replication = info(node, "replication");
            if (replication.contains("role:slave") && !replication.contains("master_link_status:up")) {
                return false;
            }
            if (!LocalRedisSentinels.replicasOnline(replication)) {
                return false; // a replica's link is up a moment before its master counts it online
            }
        }
        return true;
    }

    /** The nodes whose process runs. */
    public List<RedisServer> nodes() {
        return List.copyOf(nodes);
    }

    private List<LocalRedisServer> running() {
        return nodes.stream().filter(n -> n.pid() > 0).toList();
    }

    /** Where a client starts: every node's address (a client needs only one that answers). */
    public List<HostAndPort> seeds() {
        return nodes.stream().map(n -> new HostAndPort(n.host(), n.port())).toList();
    }

    /** The {@code redis-cluster://} uri of a broker on this cluster: every node a seed. */
    public String uri() {
        return "redis-cluster://" + String.join(",", seeds().stream().map(HostAndPort::toString).toList());
    }

    /** The master serving the slot of {@code key} now, as a running node sees it. */
    public RedisServer masterOf(String key) {
        long slot = (Long) running().get(0).command("CLUSTER", "KEYSLOT", key);
        return masterOfSlot(slot).orElseThrow(() -> new IllegalStateException("no master serves slot " + slot));
    }

    private Optional<LocalRedisServer> masterOfSlot(long slot) {
        for (LocalRedisServer node : running()) {
            for (String line : clusterNodes(node)) {
                // <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot> <slot> ...
                String[] f = line.split(" ");
                if (!f[2].contains("master") || f[2].contains("fail")) {
                    continue;
                }
                for (int i = 8; i < f.length; i++) {
                    String[] range = f[i].split("-");
                    if (range[0].startsWith("[")) {
                        continue; // a slot being migrated
                    }
                    long from = Long.parseLong(range[0]);
                    long to = range.length > 1 ? Long.parseLong(range[1]) : from;
                    if (slot >= from && slot <= to) {
                        int port = Integer.parseInt(f[1].substring(f[1].indexOf(':') + 1, f[1].indexOf('@')));
                        return nodes.stream().filter(n -> n.port() == port).findFirst();
                    }
                }
            }
            return Optional.empty(); // one running node's view is the answer
        }
        return Optional.empty();
    }

    private static List<String> clusterNodes(LocalRedisServer node) {
        return Arrays.stream(text(node.command("CLUSTER", "NODES")).split("\n")).filter(l -> !l.isBlank()).toList();
    }

    private static String info(LocalRedisServer node, String section) {
        return text(node.command("INFO", section));
    }

    private static String text(Object reply) {
        return reply instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : String.valueOf(reply);
    }

    @Override
    public void close() {
        nodes.forEach(LocalRedisServer::close);
    }
}
