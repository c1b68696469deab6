package dev.courier.redis;

import java.util.concurrent.atomic.LongAdder;

/** What one Streams broker object has done, for its health data; each part of the broker counts its own. */
final class Counters {
    final LongAdder published = new LongAdder();
    /** Rejected (nack), moved to the dead letters, or delivered more often than max-retries allows. */
    final LongAdder failed = new LongAdder();
    final LongAdder deadLettered = new LongAdder();
    /** Given up with enable-dlq false: acknowledged without a dead letter. */
    final LongAdder discarded = new LongAdder();
}
