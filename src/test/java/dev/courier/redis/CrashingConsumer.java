package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.Message;
import dev.courier.spi.BrokerSettings;

import java.util.List;
import java.util.Map;

/**
 * A consumer for {@link RedisCrashRecoveryTest}, run in a JVM of its own: acknowledges entries one by one, printing
 * each acknowledged id, until {@code stopAfter} are done; then acknowledges half of the next batch, prints
 * {@code MID-BATCH} and waits to be killed.
 *
 * <p>Arguments: uri stream group consumer-name stopAfter batchSize.
 */
final class CrashingConsumer {

    private CrashingConsumer() {
    }

    public static void main(String[] args) throws InterruptedException {
        dev.courier.testing.EndsWithParent.watch();
        String uri = args[0];
        String stream = args[1];
        String group = args[2];
        int stopAfter = Integer.parseInt(args[4]);
        int batchSize = Integer.parseInt(args[5]);
        Broker broker = new RedisBrokerProvider().create("crashing", new BrokerSettings("crashing", "redis",
                Map.of("uri", uri, "consumer-name", args[3])));
        int acked = 0;
        while (true) {
            List<Message> batch = broker.read(stream, group, batchSize);
            if (batch.isEmpty()) {
                continue;
            }
            boolean last = acked >= stopAfter;
            int toAck = last ? batch.size() / 2 : batch.size();
            for (int i = 0; i < toAck; i++) {
                if (broker.ack(stream, batch.get(i).id(), group)) {
                    System.out.println("ACK " + batch.get(i).id());
                    acked++;
                }
            }
            if (last) {
                System.out.println("MID-BATCH " + batch.size() + " read, " + toAck + " acknowledged");
                System.out.flush();
                new java.util.concurrent.CountDownLatch(1).await(); // SIGKILL comes here
            }
        }
    }
}
