package dev.courier.inline;

import dev.courier.Message;
import dev.courier.spi.RetryPolicy;
import org.junit.jupiter.api.Test;

import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InlineBrokerConcurrencyTest {

    static final int PUBLISHERS = 4;
    static final int CONSUMERS = 4;
    static final int MESSAGES = 100_000;

    @Test
    void four_publishers_and_four_consumers_in_one_group_ack_every_message_exactly_once() throws Exception {
        InlineBroker broker = new InlineBroker("test", RetryPolicy.DEFAULT, InstantSource.system());
        Set<String> published = ConcurrentHashMap.newKeySet();
        Map<Integer, String> delivered = new ConcurrentHashMap<>();
        AtomicInteger duplicates = new AtomicInteger();
        AtomicInteger failedAcks = new AtomicInteger();
        AtomicInteger acked = new AtomicInteger();

        // The group exists before the first publish: a group made later starts within the last max-length entries,
        // and a publisher scheduled well ahead of the consumers would otherwise leave the first ones behind it.
        assertTrue(broker.read("orders", "workers", 1).isEmpty());
        ExecutorService pool = Executors.newFixedThreadPool(PUBLISHERS + CONSUMERS);
        List<Future<?>> tasks = new ArrayList<>();
        for (int p = 0; p < PUBLISHERS; p++) {
            int publisher = p;
            tasks.add(pool.submit(() -> {
                for (int i = publisher; i < MESSAGES; i += PUBLISHERS) {
                    published.add(broker.publish("orders", Map.of("n", i)));
                }
            }));
        }
        for (int c = 0; c < CONSUMERS; c++) {
            tasks.add(pool.submit(() -> {
                while (acked.get() < MESSAGES) {
                    List<Message> batch = broker.read("orders", "workers", 50);
                    if (batch.isEmpty()) {
                        Thread.yield(); // leave the CPU to the publishers: on 2 busy cores, spinning starves them
                    }
                    for (Message m : batch) {
                        if (delivered.putIfAbsent((Integer) m.payload().get("n"), m.id()) != null) {
                            duplicates.incrementAndGet();
                        }
                        if (broker.ack("orders", m.id(), "workers")) {
                            acked.incrementAndGet();
                        } else {
                            failedAcks.incrementAndGet();
                        }
                    }
                }
            }));
        }
        // A guard against a hang, not a speed check: generous for a machine shared with other builds.
        for (Future<?> task : tasks) {
            try {
                task.get(180, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                pool.shutdownNow();
                throw new AssertionError("not done in 180 s: published " + published.size() + ", delivered "
                        + delivered.size() + ", acked " + acked.get() + ", failed acks " + failedAcks.get(), e);
            }
        }
        pool.shutdown();

        int lost = MESSAGES - delivered.size();
        System.out.printf("inline concurrency: published=%d acked=%d lost=%d duplicates=%d failed-acks=%d%n",
                published.size(), acked.get(), lost, duplicates.get(), failedAcks.get());
        assertEquals(MESSAGES, published.size(), "every publish returns a new id");
        assertEquals(0, lost);
        assertEquals(0, duplicates.get());
        assertEquals(0, failedAcks.get());
        assertEquals(MESSAGES, acked.get());
        assertTrue(broker.read("orders", "workers", 10).isEmpty());
        assertEquals(0, broker.healthStats().messageCounts().inFlight());
        assertEquals(published, Set.copyOf(delivered.values()));
    }

    @Test
    void a_reader_racing_a_publish_all_gets_the_whole_batch_or_none_of_it() throws Exception {
        InlineBroker broker = new InlineBroker("test", RetryPolicy.DEFAULT, InstantSource.system());
        List<Map<String, Object>> batch = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            batch.add(Map.of("n", i));
        }
        for (int round = 0; round < 200; round++) {
            String stream = "batch-" + round;
            assertTrue(broker.read(stream, "g", 1).isEmpty());
            ExecutorService reader = Executors.newSingleThreadExecutor();
            Future<List<Message>> firstRead = reader.submit(() -> {
                List<Message> read;
                do {
                    read = broker.read(stream, "g", batch.size());
                } while (read.isEmpty());
                return read;
            });
            broker.publishAll(stream, batch);
            assertEquals(batch.size(), firstRead.get(30, TimeUnit.SECONDS).size(), "round " + round);
            reader.shutdown();
        }
    }
}
