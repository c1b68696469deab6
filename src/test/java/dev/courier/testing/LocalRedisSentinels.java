package dev.courier.testing;

import org.awaitility.core.ConditionTimeoutException;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.exceptions.JedisConnectionException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;

/**
 * A real Sentinel set on 127.0.0.1: one master, {@code replicas} replicas, and {@code sentinels} Sentinels
 * ({@code redis-server sentinel.conf --sentinel}) watching them with a quorum of a majority, each a process of this
 * JVM with its watchdog. Sentinels fail a master that has not answered for {@link #DOWN_AFTER_MS}.
 */
public final class LocalRedisSentinels implements AutoCloseable {

    /** The master's name, as clients ask the Sentinels for it. */
    public static final String MASTER_NAME = "courier";

    static final int DOWN_AFTER_MS = 1000;

    private final List<LocalRedisServer> dataNodes = new ArrayList<>();
    private final List<LocalRedisServer> sentinels = new ArrayList<>();

    private LocalRedisSentinels() {
    }

    public static LocalRedisSentinels start(int replicas, int sentinels) {
        LocalRedisSentinels set = new LocalRedisSentinels();
        try {
            LocalRedisServer master = LocalRedisServer.launch(false, List.of());
            set.dataNodes.add(master);
            for (int i = 0; i < replicas; i++) {
                set.dataNodes.add(LocalRedisServer.launch(false,
                        List.of("--replicaof", master.host(), Integer.toString(master.port()))));
            }
            int quorum = sentinels / 2 + 1;
            for (int i = 0; i < sentinels; i++) {
                set.sentinels.add(LocalRedisServer.launchSentinel(List.of(
                        "sentinel monitor " + MASTER_NAME + " " + master.host() + " " + master.port() + " " + quorum,
                        "sentinel down-after-milliseconds " + MASTER_NAME + " " + DOWN_AFTER_MS,
                        "sentinel failover-timeout " + MASTER_NAME + " 10000",
                        "sentinel parallel-syncs " + MASTER_NAME + " 1")));
            }
            set.awaitSettled(Duration.ofSeconds(30));
            return set;
        } catch (IOException | RuntimeException e) {
            set.close();
            throw new IllegalStateException("cannot start a Sentinel set: " + e.getMessage(), e);
        }
    }

    /**
     * Waits until every running Sentinel names the same running master and knows the other Sentinels, and every
     * running replica is in sync with that master.
     */
    public void awaitSettled(Duration timeout) {
        try {
            // A node that a Sentinel turns into a replica closes its clients' connections: not settled yet.
            await().atMost(timeout).pollInterval(Duration.ofMillis(50))
                    .ignoreExceptionsInstanceOf(JedisConnectionException.class).until(this::settled);
        } catch (ConditionTimeoutException e) {
            throw new IllegalStateException("the Sentinel set has not settled within " + timeout + ": sentinels "
                    + running(sentinels).stream().map(s -> text(s.command("INFO", "sentinel")).lines()
                            .filter(l -> l.startsWith("master0")).toList()).toList()
                    + ", data nodes " + running(dataNodes).stream().map(n -> n.port() + " "
                            + text(n.command("INFO", "replication")).lines()
                            .filter(l -> l.startsWith("role") || l.startsWith("master_port")
                                    || l.startsWith("master_link_status")).toList()).toList(), e);
        }
    }

    private boolean settled() {
        List<LocalRedisServer> watching = running(sentinels);
        HostAndPort master = null;
        for (LocalRedisServer sentinel : watching) {
            HostAndPort named = masterNamedBy(sentinel);
            if (master != null && !master.equals(named)) {
                return false;
            }
            master = named;
            // (A killed replica stays in the Sentinels' count of replicas: only the count of Sentinels is checked.)
            if (!text(sentinel.command("INFO", "sentinel")).contains("sentinels=" + watching.size())) {
                return false;
            }
        }
        HostAndPort agreed = master;
        LocalRedisServer current = running(dataNodes).stream()
                .filter(n -> agreed != null && n.port() == agreed.getPort()).findFirst().orElse(null);
        if (current == null || !text(current.command("INFO", "replication")).contains("role:master")) {
            return false;
        }
        if (!replicasOnline(text(current.command("INFO", "replication")))) {
            return false;
        }
        return running(dataNodes).stream().filter(n -> n != current).allMatch(n -> {
            String replication = text(n.command("INFO", "replication"));
            return replication.contains("master_port:" + agreed.getPort())
                    && replication.contains("master_link_status:up");
        });
    }

    /** Whether every replica a master's INFO replication lists is {@code state=online} (past its first sync). */
    static boolean replicasOnline(String replication) {
        return replication.lines().filter(l -> l.startsWith("slave") && l.contains(":ip="))
                .allMatch(l -> l.contains("state=online"));
    }

    private static HostAndPort masterNamedBy(LocalRedisServer sentinel) {
        Object reply = sentinel.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME);
        List<?> address = (List<?>) reply;
        return new HostAndPort(text(address.get(0)), Integer.parseInt(text(address.get(1))));
    }

    /** The Sentinels' addresses, as a client is configured with them. */
    public List<HostAndPort> sentinels() {
        return sentinels.stream().map(s -> new HostAndPort(s.host(), s.port())).toList();
    }

    /** The {@code redis-sentinel://} uri of a broker on this set, database 0. */
    public String uri() {
        return "redis-sentinel://" + String.join(",", sentinels().stream().map(HostAndPort::toString).toList())
                + "/0#" + MASTER_NAME;
    }

    /** The master the first running Sentinel names now. */
    public RedisServer master() {
        HostAndPort named = masterNamedBy(running(sentinels).get(0));
        return dataNodes.stream().filter(n -> n.port() == named.getPort()).findFirst()
                .orElseThrow(() -> new IllegalStateException("the Sentinels name an unknown master " + named));
    }

    /** The data nodes (master and replicas), running or not. */
    public List<RedisServer> dataNodes() {
        return List.copyOf(dataNodes);
    }

    /** The Sentinels themselves, running or not (to stop one). */
    public List<RedisServer> sentinelNodes() {
        return List.copyOf(sentinels);
    }

    private static List<LocalRedisServer> running(List<LocalRedisServer> servers) {
        return servers.stream().filter(s -> s.pid() > 0).toList();
    }

    private static String text(Object reply) {
        return reply instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : String.valueOf(reply);
    }

    @Override
    public void close() {
        sentinels.forEach(LocalRedisServer::close);
        dataNodes.forEach(LocalRedisServer::close);
    }
}
