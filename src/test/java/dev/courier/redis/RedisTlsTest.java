package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerConnectionException;
import dev.courier.Message;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.RedisServer;
import dev.courier.testing.RedisServerProcess;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** rediss:// to a redis-server with a self-signed certificate on its tls-port. */
@WithRedis(tls = true)
class RedisTlsTest {

    @Test
    void rediss_withTheCertificateTrustedWorks(RedisServer redis) {
        String uri = "rediss://localhost:" + redis.tlsPort() + "/0";
        try (Broker broker = new RedisBrokerProvider().create("secure", new BrokerSettings("secure", "redis", Map.of(
                "uri", uri,
                "tls-truststore", redis.truststore().toString(),
                "tls-truststore-password", redis.truststorePassword(),
                "tls-truststore-type", "PKCS12")))) {
            String id = broker.publish("tls-stream", Map.of("secure", true));
            Message message = broker.getNext("tls-stream", "g").orElseThrow();
            assertEquals(id, message.id());
            assertTrue(broker.ack("tls-stream", id, "g"));
            assertTrue(broker.ping());
            System.out.println("TLS: published and read " + id + " over " + uri + " (" + redis.origin() + ")");
        }
    }

    /** The certificate is made by the JDK: with nothing but redis-server on the PATH (no openssl), TLS works. */
    @Test
    void the_test_servers_certificate_needs_nothing_but_java(@org.junit.jupiter.api.io.TempDir Path bin) throws Exception {
        Path redisServer = Path.of(redisServerOnPath());
        Files.createSymbolicLink(bin.resolve("redis-server"), redisServer);
        Process owner = RedisServerProcess.start("tls", Map.of("PATH", bin.toString()));
        try {
            String line = new BufferedReader(new InputStreamReader(owner.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            assertNotNull(line, "the server did not start with only redis-server on the PATH");
            String[] words = line.split(" ");
            try (Broker broker = new RedisBrokerProvider().create("secure", new BrokerSettings("secure", "redis",
                    Map.of("uri", "rediss://localhost:" + words[5] + "/0", "tls-truststore", words[7],
                            "tls-truststore-password", "changeit")))) {
                assertTrue(broker.publish("tls-stream", Map.of("secure", true)).contains("-"));
            }
        } finally {
            owner.destroyForcibly();
            owner.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static String redisServerOnPath() {
        for (String dir : System.getenv("PATH").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, "redis-server"))) {
                return Path.of(dir, "redis-server").toString();
            }
        }
        throw new IllegalStateException("no redis-server on the PATH");
    }

    @Test
    void an_untrusted_certificate_is_a_connection_error(RedisServer redis) {
        try (Broker broker = new RedisBrokerProvider().create("secure", new BrokerSettings("secure", "redis",
                Map.of("uri", "rediss://localhost:" + redis.tlsPort() + "/0", "connect-timeout", "1")))) {
            BrokerConnectionException e = assertThrows(BrokerConnectionException.class,
                    () -> broker.publish("tls-stream", Map.of("a", 1)));
            System.out.println("TLS without trusting the certificate: " + e.getMessage());
        }
    }
}
