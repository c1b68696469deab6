package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerConnectionException;
import dev.courier.Message;
import dev.courier.testing.RedisServer;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kills the master of a stream while a read blocks on it, and checks what a failover must do: a publish refused
 * before anything was sent fails past {@code failover-timeout} ({@code impatient}, 300 ms) and is tried again until
 * the new master takes it within the default one ({@code patient}); the blocked read, which carries the acks of the
 * batch before it as the engine's does, is issued again, not failed.
 * Neither publisher may hold a connection to the master that dies (one that did would write on it, and its outcome
 * would be unknown).
 */
final class FailoverCheck {

    private FailoverCheck() {
    }

    /**
     * @param afterKill what else to check right after the kill
     * @return seconds from the kill to the patient publisher's publish returning
     */
    static double killDuringABlockedRead(String what, RedisServer master, String stream, Broker impatient,
                                         Broker patient, Broker reader, Runnable afterKill)
            throws InterruptedException {
        String before = reader.publish(stream, Map.of("n", 1));
        assertTrue((Long) master.command("WAIT", "1", "5000") >= 1, "a replica holds it before the kill");
        AtomicReference<Throwable> readFailure = new AtomicReference<>();
        Set<String> read = ConcurrentHashMap.newKeySet();
        AtomicReference<String> after = new AtomicReference<>("(not yet)");
        Thread blocked = new Thread(() -> {
            try {
                List<String> acks = List.of();
                while (!read.contains(after.get())) {
                    // As the engine reads: the last batch's acks go with the next read, in one round trip.
                    List<Message> batch = reader.read(stream, "g", 10, Duration.ofSeconds(1), acks);
                    batch.forEach(m -> read.add(m.id()));
                    acks = batch.stream().map(Message::id).toList();
                }
            } catch (Throwable t) {
                readFailure.set(t);
            }
        });
        blocked.start();
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> read.contains(before));
            master.kill();
            long killed = System.nanoTime();
            afterKill.run();
            BrokerConnectionException refused = assertThrows(BrokerConnectionException.class,
                    () -> impatient.publish(stream, Map.of("n", 2)));
            assertTrue(refused.getMessage().contains("failover-timeout (300 ms)"), refused.getMessage());
            after.set(patient.publish(stream, Map.of("n", 3)));
            double seconds = (System.nanoTime() - killed) / 1e9;
            System.out.printf("%s failover: first publish after kill -9 returned after %.1f s%n", what, seconds);
            assertTrue(seconds < 10, "within failover-timeout: " + seconds);
            blocked.join(Duration.ofSeconds(15).toMillis());
            assertNull(readFailure.get(), () -> "the blocked read failed: " + readFailure.get());
            assertTrue(read.contains(after.get()), "the read resumed on the new master");
            return seconds;
        } finally {
            blocked.interrupt();
        }
    }
}
