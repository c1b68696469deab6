package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerConnectionException;
import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A Redis user allowed only the commands and keys the broker needs; and a wrong password. */
@WithRedis
class RedisAclTest {

    private static final String PASSWORD = "s3cr3t-Pa55word";

    /** What the redis provider needs, and nothing more: stream commands on its keys, PING and INFO. */
    static final String[] RULES = {"on", ">" + PASSWORD, "resetkeys", "~orders", "~orders:dlq", "-@all",
            "+ping", "+info", "+client|setname", "+xadd", "+xreadgroup", "+xack",
            "+xgroup|create", "+xgroup|setid", "+xgroup|delconsumer", "+xpending", "+xclaim", "+xautoclaim",
            "+xrange", "+xrevrange", "+xlen", "+xdel", "+xtrim", "+xinfo|groups", "+xinfo|consumers", "+del",
            "+eval", "+evalsha"};

    @BeforeAll
    static void user(RedisServer redis) {
        String[] command = new String[RULES.length + 3];
        command[0] = "ACL";
        command[1] = "SETUSER";
        command[2] = "courier";
        System.arraycopy(RULES, 0, command, 3, RULES.length);
        redis.command(command);
    }

    private static Broker broker(RedisServer redis, String password) {
        return new RedisBrokerProvider().create("acl", RedisBrokerContractTest.settings(
                redis.uri("courier", password),
                new RetryPolicy(0, Duration.ofMillis(50), 1.0, Duration.ofSeconds(30), true), Map.of()));
    }

    @Test
    void a_user_allowed_only_the_stream_commands_and_keys_it_needs_works(RedisServer redis) {
        try (Broker broker = broker(redis, PASSWORD)) {
            String id = broker.publish("orders", Map.of("event_type", "order.placed"));
            Message m = broker.getNext("orders", "g").orElseThrow();
            assertEquals(id, m.id());
            assertTrue(broker.nack("orders", id, "g")); // max-retries 0: dead-lettered
            DeadLetter letter = broker.deadLetters("orders", 1).get(0);
            assertTrue(broker.replayDeadLetter("orders", letter.id()));
            Message again = broker.getNext("orders", "g").orElseThrow();
            assertTrue(broker.ack("orders", again.id(), "g"));
            assertTrue(broker.replay("orders", "g", "0"));
            assertEquals(2, broker.read("orders", "g", 10).size());
            assertTrue(broker.ping());
            assertEquals(dev.courier.HealthStats.Status.HEALTHY, broker.healthStats().status());
            assertFalse(broker.healthStats().toString().contains(PASSWORD));
            assertFalse(broker.info().toString().contains(PASSWORD));
            assertFalse(broker.toString().contains(PASSWORD));

            // Keys outside its ACL are refused by Redis, with a clear error.
            RuntimeException denied = assertThrows(RuntimeException.class,
                    () -> broker.publish("payments", Map.of("a", 1)));
            assertTrue(denied.getMessage().contains("NOPERM"), denied.getMessage());
            System.out.println("ACL: key outside the user's pattern: " + denied.getMessage());
        }
    }

    @Test
    void a_wrong_password_fails_clearly_without_showing_the_password(RedisServer redis) {
        String wrong = "wrong-" + PASSWORD;
        try (Broker broker = broker(redis, wrong)) {
            BrokerConnectionException e = assertThrows(BrokerConnectionException.class,
                    () -> broker.publish("orders", Map.of("a", 1)));
            StringWriter trace = new StringWriter();
            e.printStackTrace(new PrintWriter(trace));
            assertFalse(trace.toString().contains(wrong), trace.toString());
            assertTrue(e.getMessage().contains("user 'courier'"), e.getMessage());
            assertTrue(e.getMessage().contains("WRONGPASS"), e.getMessage());
            assertFalse(broker.ping());
            assertFalse(broker.healthStats().toString().contains(wrong));
            System.out.println("ACL: wrong password: " + e.getMessage());
        }
    }
}
