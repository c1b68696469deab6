package dev.courier.internal.engine;

import dev.courier.Message;
import dev.courier.Subscribe;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/** How the window judges whether the reader runs the ready messages itself, from the handlers' times. */
class InFlightTest {

    private static final long QUICK = 500;
    private static final long DESCHEDULED = TimeUnit.MILLISECONDS.toNanos(4);

    @Test
    void one_call_far_above_the_average_leaves_the_ready_messages_with_the_reader() {
        InFlight window = quickWindow();
        assertNotNull(window.takeQuick(DESCHEDULED, System.nanoTime()),
                "one outlier (a thread descheduled, a GC pause) is not taken for slower handlers");
    }

    @Test
    void two_calls_in_a_row_far_above_the_average_hand_the_ready_messages_to_workers() {
        InFlight window = quickWindow();
        InFlight.Entry entry = window.takeQuick(DESCHEDULED, System.nanoTime());
        window.done(entry, true);
        assertNull(window.takeQuick(DESCHEDULED, System.nanoTime()), "handlers that turned slower go to workers");
    }

    @Test
    void a_slow_call_hands_the_next_messages_to_workers_at_once() {
        InFlight window = quickWindow();
        assertNull(window.takeQuick(2 * InFlight.SLOW_NANOS, System.nanoTime()));
    }

    /** A window of about 100 ready messages whose handlers have been quick of late: the reader runs them itself. */
    private static InFlight quickWindow() {
        InFlight window = new InFlight(new Concurrency(8, Subscribe.Ordering.NONE, "", 400));
        window.add(messages(200));
        // Until the handlers' average says the ready ones are quick work (it starts at 1 ms a message)
        InFlight.Entry entry = null;
        for (int i = 0; i < 1000 && entry == null; i++) {
            entry = window.takeQuick(QUICK, System.nanoTime());
        }
        assertNotNull(entry, "quick handlers run in the reader");
        // and settles: 100 more, leaving about 100 ready
        while (window.held() > 100) {
            window.done(entry, true);
            entry = window.takeQuick(QUICK, System.nanoTime());
            assertNotNull(entry, "quick handlers run in the reader");
        }
        window.done(entry, true);
        return window;
    }

    private static List<Message> messages(int n) {
        List<Message> messages = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            messages.add(new Message("1-" + i, "s", Map.of("seq", i), 1));
        }
        return messages;
    }
}
