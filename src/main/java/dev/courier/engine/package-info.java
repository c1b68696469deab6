/**
 * The consumption engine's read-only status, for applications: {@link dev.courier.engine.Engine} (injectable),
 * {@link dev.courier.engine.EngineStatus} and {@link dev.courier.engine.LoopStatus}. The engine itself, which runs
 * {@link dev.courier.Subscribe @Subscribe} methods over the brokers, is in {@code dev.courier.internal.engine}: not
 * API. It imports no CDI. What it does:
 *
 * <ul>
 * <li>One loop per (broker, stream, consumer group), on a thread of the server's
 *     {@code java:comp/DefaultManagedThreadFactory}, or a daemon thread in Java SE.</li>
 * <li>A loop reads up to {@code courier.engine.batch-size} messages; where the broker has BLOCKING_READ it waits on
 *     the broker up to {@code courier.engine.block-timeout} (or the broker's own {@code block-timeout}, where that
 *     is shorter); elsewhere an empty read is followed by a pause that
 *     doubles from 1 ms to 50 ms (low latency after a burst, about 20 cheap reads a second when idle).</li>
 * <li>Each message goes to the loop's handlers whose type matches; a message none wants is acknowledged, counted
 *     ({@link dev.courier.engine.LoopStatus#skipped()}) and logged at DEBUG once per type. While its handlers run,
 *     the message is the one {@link dev.courier.DomainEvent#of DomainEvent.of} links new events to. All the
 *     payload bindings are made first: one that fails dead-letters the message at once
 *     ({@link dev.courier.Broker#moveToDeadLetters(String, String, String, String)}); else the handlers run in
 *     turn, and the first that throws stops the others and rejects the message (nack), so the broker's retry and dead-letter policy
 *     applies to the whole message; a redelivery runs every matching handler again.</li>
 * <li>The acks of handled messages are sent together ({@link dev.courier.Broker#ackAll}, one XACK on Redis) at the
 *     end of each batch, or sooner once one has waited 50 ms: still after the handler returned (at least once), but
 *     one round trip per batch rather than per message.</li>
 * <li>A broker error (unreachable, or failing) backs the loop off 1, 2, 4 ... 30 s, shown as
 *     {@link dev.courier.engine.LoopStatus.State#BACKING_OFF}; it resumes by itself.</li>
 * <li>Stop: no new reads or messages; the running handler may finish within {@code courier.engine.shutdown-timeout}
 *     and is acknowledged; one that outlives it is interrupted and its message left unacknowledged. A loop that is
 *     only in a blocking read when the timeout ends is not waited for: it ends when the read returns, and what the
 *     read gave stays unacknowledged.</li>
 * </ul>
 */
package dev.courier.engine;
