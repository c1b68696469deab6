package dev.courier.internal.engine;

import dev.courier.testing.ManualClock;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CircuitBreakerTest {

    final ManualClock clock = new ManualClock();
    final CircuitBreaker breaker = new CircuitBreaker(
            new CircuitBreakerSettings(3, Duration.ofSeconds(30), List.of(IllegalArgumentException.class)), clock);
    final RuntimeException down = new IllegalStateException("database down");

    @Test
    void opens_after_the_threshold_of_consecutive_failures_and_a_success_resets_the_count() {
        assertFalse(breaker.failed(down));
        assertFalse(breaker.failed(down));
        breaker.succeeded();
        assertFalse(breaker.failed(down));
        assertFalse(breaker.failed(down));
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
        assertTrue(breaker.failed(down), "the third in a row opens it");
        assertEquals(CircuitBreaker.State.OPEN, breaker.state());
        assertEquals(30_000, breaker.remainingMillis());
        assertEquals(clock.instant().plusSeconds(30), breaker.openUntil());
    }

    @Test
    void is_half_open_after_the_delay_and_the_probe_closes_or_opens_it_again() {
        for (int i = 0; i < 3; i++) {
            breaker.failed(down);
        }
        clock.advance(Duration.ofSeconds(29));
        assertEquals(1_000, breaker.remainingMillis());
        clock.advance(Duration.ofSeconds(1));
        assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state());
        assertEquals(0, breaker.remainingMillis());
        assertNull(breaker.openUntil());

        assertTrue(breaker.failed(down), "a failed probe opens it again at once");
        assertEquals(30_000, breaker.remainingMillis());
        clock.advance(Duration.ofSeconds(30));
        assertTrue(breaker.succeeded(), "the probe succeeded: closed");
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
        assertFalse(breaker.failed(down), "counting starts again from zero");
    }

    @Test
    void a_skipped_exception_counts_as_a_success() {
        breaker.failed(down);
        breaker.failed(down);
        assertFalse(breaker.failed(new IllegalArgumentException("bad order")));
        assertFalse(breaker.failed(down));
        assertFalse(breaker.failed(down));
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
    }

    @Test
    void off_never_opens() {
        CircuitBreaker off = new CircuitBreaker(CircuitBreakerSettings.OFF, clock);
        for (int i = 0; i < 1000; i++) {
            assertFalse(off.failed(down));
        }
        assertEquals(CircuitBreaker.State.CLOSED, off.state());
        assertFalse(off.succeeded());
    }
}
