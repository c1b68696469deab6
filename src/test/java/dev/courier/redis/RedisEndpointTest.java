package dev.courier.redis;

import dev.courier.BrokerConfigurationException;
import dev.courier.spi.BrokerSettings;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.HostAndPort;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The uri forms of a Redis Cluster and a Sentinel set, and their options: parsed, or refused naming the key. */
class RedisEndpointTest {

    private static final String PASSWORD = "s3cr3t-pw";

    private static RedisConnection.Config config(String uri, String... more) {
        Map<String, String> options = new HashMap<>(Map.of("uri", uri));
        for (int i = 0; i < more.length; i += 2) {
            options.put(more[i], more[i + 1]);
        }
        return RedisConnection.Config.from(new BrokerSettings("orders", RedisBrokerProvider.NAME, options));
    }

    /** The mistake fails naming {@code key}, without the password; returns the message. */
    private static String refused(String key, String uri, String... more) {
        BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class, () -> config(uri, more));
        assertEquals("brokers.orders." + key, e.property(), e.getMessage());
        assertFalse(e.getMessage().contains(PASSWORD), e.getMessage());
        return e.getMessage();
    }

    @Test
    void a_cluster_uri_lists_its_seeds_with_the_data_nodes_credentials() {
        RedisConnection.Config c = config("rediss-cluster://app:" + PASSWORD
                + "@10.0.0.1:7000, node-2:7001,[::1]:7002");
        RedisEndpoint e = c.endpoint();
        assertEquals(RedisEndpoint.Topology.CLUSTER, e.topology());
        assertEquals(List.of(new HostAndPort("10.0.0.1", 7000), new HostAndPort("node-2", 7001),
                new HostAndPort("::1", 7002)), e.nodes());
        assertTrue(e.ssl());
        assertEquals("app", e.user());
        assertEquals(PASSWORD, e.password());
        assertEquals(0, e.database());
        assertEquals("rediss-cluster://***@10.0.0.1:7000,node-2:7001,[::1]:7002", c.describe());
        assertFalse(c.toString().contains(PASSWORD), c.toString());
        assertEquals(Duration.ofSeconds(10), c.failoverTimeout(), "the default failover-timeout");
        assertEquals(0, c.minReplicasAcked());
    }

    @Test
    void a_sentinel_uri_names_the_sentinels_the_database_and_the_master_and_the_sentinels_have_their_own_access() {
        RedisConnection.Config c = config("redis-sentinel://:" + PASSWORD + "@s1,s2:26380/2#my%20master",
                "sentinel-user", "watcher", "sentinel-password", "other-pw", "min-replicas-acked", "1",
                "failover-timeout", "PT5S");
        RedisEndpoint e = c.endpoint();
        assertEquals(RedisEndpoint.Topology.SENTINEL, e.topology());
        assertEquals(List.of(new HostAndPort("s1", 26379), new HostAndPort("s2", 26380)), e.nodes());
        assertNull(e.user());
        assertEquals(PASSWORD, e.password(), "the uri's credentials are the data nodes'");
        assertEquals(2, e.database());
        assertEquals("my master", e.masterName());
        assertEquals(new RedisConnection.SentinelAccess("watcher", "other-pw", false, c.tls()), c.sentinels());
        assertFalse(c.sentinels().toString().contains("other-pw"));
        assertEquals("redis-sentinel://***@s1:26379,s2:26380/2#my master", c.describe());
        assertEquals(1, c.minReplicasAcked());
        assertEquals(Duration.ofSeconds(5), c.failoverTimeout());
    }

    @Test
    void tls_to_the_sentinels_follows_the_data_nodes_unless_set() {
        assertTrue(config("rediss-sentinel://s1:26379#m").sentinels().ssl());
        assertFalse(config("rediss-sentinel://s1:26379#m", "sentinel-tls", "false").sentinels().ssl());
        assertTrue(config("redis-sentinel://s1:26379#m", "sentinel-tls", "true").sentinels().ssl());
    }

    @Test
    void a_truststore_of_the_sentinels_replaces_the_data_nodes_one_for_them_only() throws IOException {
        File data = Files.createTempFile("data", ".p12").toFile();
        File watchers = Files.createTempFile("sentinels", ".p12").toFile();
        data.deleteOnExit();
        watchers.deleteOnExit();
        RedisConnection.Config c = config("rediss-sentinel://s1:26379#m", "tls-truststore", data.getPath(),
                "tls-truststore-password", PASSWORD, "sentinel-tls-truststore", watchers.getPath(),
                "sentinel-tls-truststore-password", "other-pw");
        assertEquals(data.getPath(), c.tls().truststore());
        assertEquals(watchers.getPath(), c.sentinels().tls().truststore());
        assertEquals("other-pw", c.sentinels().tls().truststorePassword());
        assertFalse(c.tls().toString().contains(PASSWORD) || c.sentinels().tls().toString().contains("other-pw"));
        assertEquals(data.getPath(), config("rediss-sentinel://s1:26379#m", "tls-truststore", data.getPath())
                .sentinels().tls().truststore(), "by default the data nodes' truststore");
    }

    @Test
    void each_mistake_fails_naming_the_key_and_never_the_password() {
        String user = "app:" + PASSWORD + "@";
        assertTrue(refused("uri", "redis-sentinel://" + user + "s1:26379,s2:26379/0").contains("names no master"));
        assertTrue(refused("uri", "redis-sentinel://" + user + "s1:26379/0#").contains("names no master"));
        assertTrue(refused("uri", "redis-sentinel://" + user + "/0#m").contains("empty host"));
        assertTrue(refused("uri", "redis-cluster://" + user).contains("empty host"));
        assertTrue(refused("uri", "redis-cluster://" + user + "h1:7000,,h2:7001").contains("empty host"));
        assertTrue(refused("uri", "redis-cluster://" + user + "h1:70000").contains("port '70000'"));
        assertTrue(refused("uri", "redis-cluster://" + user + "h1:7000,h2:x").contains("port 'x' for host 'h2'"));
        assertTrue(refused("uri", "redis-cluster://" + user + "h1:7000,h2:0").contains("port '0'"));
        assertTrue(refused("uri", "redis-cluster://" + user + "h1:7000/1").contains("database 0 only"));
        assertTrue(refused("uri", "redis-cluster://" + user + "h1:7000#m").contains("only redis-sentinel://"));
        assertTrue(refused("uri", "redis://" + user + "h1:6379,h2:6379/0").contains("redis-cluster://"));
        assertTrue(refused("uri", "redis-sentinel://" + user + "bad host:26379#m").contains("host 'bad host'"));
        assertTrue(refused("uri", "redis-sentinel://" + user + "s1/x#m").contains("database 'x'"));
        assertTrue(refused("uri", "valkey-cluster://" + user + "h1:7000").contains("redis-cluster"));
        assertTrue(refused("uri", "redis-cluster://" + user + "h1:7000?timeout=1").contains("query"));
        assertTrue(refused("sentinel-password", "redis-cluster://h1:7000", "sentinel-password", PASSWORD)
                .contains("names no Sentinels"));
        assertTrue(refused("sentinel-tls-truststore", "redis-sentinel://s1#m", "sentinel-tls-truststore",
                "/no/such/file").contains("not a readable file"));
        refused("sentinel-tls", "redis-sentinel://" + user + "s1#m", "sentinel-tls", "yes");
        refused("failover-timeout", "redis-cluster://" + user + "h1:7000", "failover-timeout", "soon");
        refused("failover-timeout", "redis-cluster://" + user + "h1:7000", "failover-timeout", "0");
        refused("min-replicas-acked", "redis-cluster://" + user + "h1:7000", "min-replicas-acked", "-1");
    }

    @Test
    void a_password_with_unencoded_slashes_hashes_commas_or_question_marks_is_read_whole_and_never_shown() {
        String odd = "p/w#x,y?z:" + PASSWORD;
        RedisConnection.Config c = config("redis-sentinel://app:" + odd + "@s1:26379,s2/1#mymaster");
        assertEquals(odd, c.endpoint().password());
        assertEquals("mymaster", c.endpoint().masterName());
        assertEquals(1, c.endpoint().database());
        BrokerConfigurationException e = assertThrows(BrokerConfigurationException.class,
                () -> config("redis-cluster://app:" + odd + "@h1:7000,h2:x"));
        for (String part : new String[] {"p/w", "x,y", "y?z", PASSWORD}) {
            assertFalse(e.getMessage().contains(part), e.getMessage());
        }
        assertTrue(e.getMessage().contains("'redis-cluster://***@h1:7000,h2:x'"), e.getMessage());
    }

    @Test
    void a_single_node_uri_reads_as_before() {
        RedisConnection.Config c = config("rediss://:" + PASSWORD + "@[::1]/3");
        assertEquals(RedisEndpoint.Topology.STANDALONE, c.endpoint().topology());
        assertEquals(List.of(new HostAndPort("::1", 6379)), c.endpoint().nodes());
        assertEquals(3, c.endpoint().database());
        assertNull(c.sentinels());
        assertEquals("rediss://***@[::1]:6379/3", c.describe());
    }
}
