package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerException;
import dev.courier.Message;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A blocking read whose reply is lost: Redis is busy past the client's socket timeout, then serves the read (the
 * entry is now pending for this consumer) into a connection the client has given up on. The entry must come with the
 * next read, not only after message-timeout, when another consumer would reclaim it.
 */
@WithRedis
class RedisLostReplyTest {

    /** XADD, then keep Redis busy for a second: the blocked read is served when the script ends. */
    private static final String XADD_THEN_BUSY = """
            redis.call('XADD', KEYS[1], '*', 'data', ARGV[1])
            local t = redis.call('TIME')
            local start = tonumber(t[1]) * 1000000 + tonumber(t[2])
            repeat
              t = redis.call('TIME')
            until tonumber(t[1]) * 1000000 + tonumber(t[2]) - start > 1000000
            return 1
            """;

    @Test
    void an_entry_whose_read_reply_was_lost_comes_with_the_next_read(RedisServer redis) throws Exception {
        String stream = "lost-reply-" + System.nanoTime();
        RetryPolicy policy = new RetryPolicy(3, Duration.ofMillis(100), 2.0, Duration.ofMinutes(10), true);
        try (Broker broker = new RedisBrokerProvider().create("lost", RedisBrokerContractTest.settings(redis.uri(),
                policy, Map.of("socket-timeout", "0.3", "block-timeout", "0.2")))) {
            assertEquals(List.of(), broker.read(stream, "g", 10)); // makes the group
            CompletableFuture<List<Message>> blocked = CompletableFuture.supplyAsync(
                    () -> broker.read(stream, "g", 10, Duration.ofMillis(200)));
            await().atMost(Duration.ofSeconds(10)).until(() -> info(redis).contains("blocked_clients:1"));
            redis.command("EVAL", XADD_THEN_BUSY, "1", stream, "{\"n\": 1}");

            ExecutionException failed = assertThrows(ExecutionException.class,
                    () -> blocked.get(10, TimeUnit.SECONDS), "the read's socket timed out while Redis was busy");
            assertInstanceOf(BrokerException.class, failed.getCause());
            assertEquals(1L, pendingOf(redis, stream), "Redis delivered the entry to the read that gave up");

            List<Message> next = broker.read(stream, "g", 10);
            assertEquals(1, next.size(), "delivered again at once, not after message-timeout");
            assertEquals(Map.of("n", 1), next.get(0).payload());
            assertEquals(2, next.get(0).deliveryCount());
        }
    }

    private static String info(RedisServer redis) {
        return new String((byte[]) redis.command("INFO", "clients"), StandardCharsets.UTF_8);
    }

    private static long pendingOf(RedisServer redis, String stream) {
        return (Long) ((List<?>) redis.command("XPENDING", stream, "g")).get(0);
    }
}
