package dev.courier.demo;

import dev.courier.Subscribe;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.Map;

/**
 * Handles the orders published to the stream "orders". An order with {@code "fail": true} makes it throw: the broker
 * delivers it again after its retry delay and, after {@code max-retries}, moves it to the dead-letter queue. An order
 * with {@code "work_ms"} takes that long, to watch a stop let running handlers finish.
 */
@ApplicationScoped
public class OrderSubscriber {

    void onOrder(@Subscribe(stream = "orders") Map<String, Object> order, Inbox inbox) throws InterruptedException {
        if (order.get("work_ms") instanceof Number millis) {
            Thread.sleep(millis.longValue()); // the work itself
        }
        if (Boolean.TRUE.equals(order.get("fail"))) {
            inbox.failed("orders", order, "the order asked to fail");
            throw new IllegalStateException("order " + order.get("order_id") + " asked to fail");
        }
        inbox.handled("orders", order);
    }
}
