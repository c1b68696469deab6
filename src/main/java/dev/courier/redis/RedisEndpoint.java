package dev.courier.redis;

import dev.courier.spi.BrokerSettings;
import redis.clients.jedis.HostAndPort;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Where the data lives, as the {@code uri} says: one node ({@code redis://}), a Redis Cluster's seed nodes
 * ({@code redis-cluster://host:port,host:port}, Spring Boot's {@code cluster.nodes}) or a Sentinel set
 * ({@code redis-sentinel://host:port,host:port/db#master}, Lettuce's form); {@code rediss...} for TLS to the data
 * nodes. The user-info is the data nodes' credentials. Parsed by hand: {@link java.net.URI} takes one host only.
 * {@link #toString()} shows no password.
 */
record RedisEndpoint(Topology topology, List<HostAndPort> nodes, boolean ssl, String user, String password,
                     int database, String masterName) {

    /** How the nodes are organised. */
    enum Topology {
        /** One Redis. */
        STANDALONE,
        /** A Redis Cluster: the nodes are seeds, the client learns the rest. */
        CLUSTER,
        /** A master and replicas watched by Sentinels: the nodes are the Sentinels. */
        SENTINEL
    }

    /** A host name, an IPv4 address, or (between the brackets) an IPv6 one with an optional zone. */
    private static final java.util.regex.Pattern HOST = java.util.regex.Pattern.compile("[A-Za-z0-9._:%-]+");

    private static final String EXAMPLES = "for example redis://localhost:6379/0, "
            + "redis-cluster://host1:6379,host2:6379 or redis-sentinel://host1:26379,host2:26379/0#mymaster";

    /** The broker's {@code uri}; every mistake fails naming the key, with the password masked. */
    static RedisEndpoint from(BrokerSettings settings) {
        String text = settings.get("uri").orElseThrow(() -> settings.invalid("uri",
                "is required by provider '" + settings.provider() + "'; " + EXAMPLES)).trim();
        String masked = mask(text);
        int schemeEnd = text.indexOf("://");
        if (schemeEnd <= 0) {
            throw settings.invalid("uri", "'" + masked + "' is not a valid URI; " + EXAMPLES);
        }
        String scheme = text.substring(0, schemeEnd).toLowerCase(Locale.ROOT);
        Topology topology;
        boolean ssl;
        switch (scheme) {
            case "redis" -> { topology = Topology.STANDALONE; ssl = false; }
            case "rediss" -> { topology = Topology.STANDALONE; ssl = true; }
            case "redis-cluster" -> { topology = Topology.CLUSTER; ssl = false; }
            case "rediss-cluster" -> { topology = Topology.CLUSTER; ssl = true; }
            case "redis-sentinel" -> { topology = Topology.SENTINEL; ssl = false; }
            case "rediss-sentinel" -> { topology = Topology.SENTINEL; ssl = true; }
            default -> throw settings.invalid("uri", "'" + masked + "' has scheme '" + text.substring(0, schemeEnd)
                    + "'; provider '" + settings.provider() + "' takes redis, rediss, redis-cluster, "
                    + "rediss-cluster, redis-sentinel or rediss-sentinel");
        }
        String rest = text.substring(schemeEnd + 3);
        // The user-info ends at the last '@': a password that holds '/', '#', '?' or ',' without encoding them is
        // still read as one, never taken in part for a host, a port or a master's name (and so shown).
        String user = null;
        String password = null;
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            String userInfo = rest.substring(0, at);
            rest = rest.substring(at + 1);
            if (!userInfo.isEmpty()) {
                int colon = userInfo.indexOf(':');
                if (colon < 0) {
                    // redis://secret@host: a lone user-info is the password, as redis-cli and Jedis read it.
                    password = decode(userInfo);
                } else {
                    user = colon == 0 ? null : decode(userInfo.substring(0, colon));
                    password = decode(userInfo.substring(colon + 1));
                }
            }
        }
        String masterName = null;
        int hash = rest.indexOf('#');
        if (hash >= 0) {
            masterName = decode(rest.substring(hash + 1));
            rest = rest.substring(0, hash);
        }
        if (rest.indexOf('?') >= 0) {
            throw settings.invalid("uri", "'" + masked + "' has a query ('?...'); set options as brokers."
                    + settings.brokerName() + ".<option> instead");
        }
        int slash = rest.indexOf('/');
        String authority = slash < 0 ? rest : rest.substring(0, slash);
        String path = slash < 0 ? "" : rest.substring(slash + 1);
        int defaultPort = topology == Topology.SENTINEL ? 26379 : 6379;
        List<HostAndPort> nodes = new ArrayList<>();
        for (String node : authority.split(",", -1)) {
            nodes.add(node(settings, masked, node.trim(), defaultPort));
        }
        if (topology == Topology.STANDALONE && nodes.size() > 1) {
            throw settings.invalid("uri", "'" + masked + "' names " + nodes.size() + " hosts; " + scheme
                    + ":// takes one, use " + (ssl ? "rediss" : "redis") + "-cluster:// for a Redis Cluster or "
                    + (ssl ? "rediss" : "redis") + "-sentinel://...#<master-name> for Sentinel");
        }
        int database = 0;
        if (!path.isEmpty()) {
            try {
                database = Integer.parseInt(path);
            } catch (NumberFormatException e) {
                database = -1;
            }
            if (database < 0) {
                throw settings.invalid("uri", "'" + masked + "' names database '" + path
                        + "'; use a number such as redis://host:6379/0");
            }
        }
        if (topology == Topology.CLUSTER && database != 0) {
            throw settings.invalid("uri", "'" + masked + "' names database " + database
                    + "; a Redis Cluster has database 0 only, leave the path out");
        }
        if (topology == Topology.SENTINEL) {
            if (masterName == null || masterName.isBlank()) {
                throw settings.invalid("uri", "'" + masked + "' names no master; add the name the Sentinels "
                        + "monitor it under, as in redis-sentinel://host1:26379,host2:26379/0#mymaster");
            }
        } else if (masterName != null) {
            throw settings.invalid("uri", "'" + masked + "' has a fragment ('#" + masterName + "'); only "
                    + "redis-sentinel:// takes one, the master's name");
        }
        return new RedisEndpoint(topology, List.copyOf(nodes), ssl, user, password, database, masterName);
    }

    private static HostAndPort node(BrokerSettings settings, String masked, String node, int defaultPort) {
        String host = node;
        String port = null;
        if (node.startsWith("[")) {
            int close = node.indexOf(']');
            if (close < 0) {
                throw settings.invalid("uri", "'" + masked + "' has an IPv6 host without its closing ']'");
            }
            host = node.substring(1, close);
            if (node.length() > close + 1) {
                if (node.charAt(close + 1) != ':') {
                    throw settings.invalid("uri", "'" + masked + "' has '" + node + "': expected [address]:port");
                }
                port = node.substring(close + 2);
            }
        } else {
            int colon = node.lastIndexOf(':');
            if (colon >= 0) {
                host = node.substring(0, colon);
                port = node.substring(colon + 1);
            }
        }
        if (host.isEmpty()) {
            throw settings.invalid("uri", "'" + masked + "' has an empty host"
                    + (node.isEmpty() ? " (two commas in a row, or none given)" : " in '" + node + "'"));
        }
        if (!HOST.matcher(host).matches()) {
            throw settings.invalid("uri", "'" + masked + "' has host '" + host + "', which is not a host name or "
                    + "address");
        }
        int number = defaultPort;
        if (port != null) {
            try {
                number = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                number = -1;
            }
            if (number < 1 || number > 65535) {
                throw settings.invalid("uri", "'" + masked + "' has port '" + port + "' for host '" + host
                        + "'; a port is a number from 1 to 65535");
            }
        }
        return new HostAndPort(host, number);
    }

    /** The uri with everything between {@code ://} and the last {@code @} shown as {@code ***}. */
    static String mask(String text) {
        int start = text.indexOf("://");
        int at = text.lastIndexOf('@');
        return start >= 0 && at > start ? text.substring(0, start + 3) + "***" + text.substring(at)
                : BrokerSettings.maskUserInfo(text);
    }

    private static String decode(String text) {
        return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** The URI without credentials, for messages and health data. */
    String describe() {
        String scheme = (ssl ? "rediss" : "redis") + switch (topology) {
            case STANDALONE -> "";
            case CLUSTER -> "-cluster";
            case SENTINEL -> "-sentinel";
        };
        StringBuilder text = new StringBuilder(scheme).append("://");
        if (user != null || password != null) {
            text.append("***@");
        }
        for (int i = 0; i < nodes.size(); i++) {
            HostAndPort node = nodes.get(i);
            text.append(i == 0 ? "" : ",").append(node.getHost().indexOf(':') >= 0 ? "[" + node.getHost() + "]"
                    : node.getHost()).append(':').append(node.getPort());
        }
        if (topology != Topology.CLUSTER) {
            text.append('/').append(database);
        }
        if (masterName != null) {
            text.append('#').append(masterName);
        }
        return text.toString();
    }

    @Override
    public String toString() {
        return "RedisEndpoint[" + describe() + "]";
    }
}
