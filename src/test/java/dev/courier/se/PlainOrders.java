package dev.courier.se;

import dev.courier.Message;

import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A Java SE application on {@link CourierRunner} whose subscriber takes {@code Message}, for
 * {@link PlainMainProcessTest}: run without JSON-B on the class path, it prints {@code handled <payload>} and exits.
 */
public final class PlainOrders {

    private PlainOrders() {
    }

    public static void main(String[] args) throws InterruptedException {
        CountDownLatch handled = new CountDownLatch(1);
        try (CourierRunner courier = CourierRunner.builder().property(CourierRunner.HEALTH_PORT, "-1")
                .subscribe("orders", "printer", Message.class, order -> {
                    System.out.println("handled " + order.payload());
                    handled.countDown();
                })
                .build().start()) {
            courier.brokers().publish("orders", Map.of("order_id", "42"));
            if (!handled.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("not handled");
            }
        }
    }
}
