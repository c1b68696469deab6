package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerConnectionException;
import dev.courier.Message;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

    @Test
    void anUntrustedCertificateIsAConnectionError(RedisServer redis) {
        try (Broker broker = new RedisBrokerProvider().create("secure", new BrokerSettings("secure", "redis",
                Map.of("uri", "rediss://localhost:" + redis.tlsPort() + "/0", "connect-timeout", "1")))) {
            BrokerConnectionException e = assertThrows(BrokerConnectionException.class,
                    () -> broker.publish("tls-stream", Map.of("a", 1)));
            System.out.println("TLS without trusting the certificate: " + e.getMessage());
        }
    }
}
