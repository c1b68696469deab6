package dev.courier.redis;

import dev.courier.BrokerException;
import dev.courier.spi.MaintenancePolicy;
import dev.courier.spi.Retention;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XTrimParams;
import redis.clients.jedis.resps.StreamEntry;
import redis.clients.jedis.resps.StreamGroupInfo;
import redis.clients.jedis.resps.StreamPendingSummary;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Keeps streams and their dead letters from growing without end: trims a stream to about {@code max-length} while
 * publishing, removes its entries older than {@code retention}, and its dead letters older than
 * {@code dead-letter-retention} (XTRIM MINID, by the time in the entry ids).
 *
 * <p>The at-least-once rule it keeps: a stream is never trimmed past the first entry a group still needs, the lowest
 * of each group's last-delivered id and first pending id, so that no entry goes before every group has acknowledged
 * it.
 */
final class Trimmer {

    private static final System.Logger LOG = System.getLogger("dev.courier.redis");

    private final String name;
    private final RedisConnection connection;
    private final ConsumerGroups groups;
    private final long maxLength;
    private final Duration retention;
    private final MaintenancePolicy maintenance;
    private final Map<String, AtomicLong> publishedSinceTrim = new ConcurrentHashMap<>();

    Trimmer(String name, RedisConnection connection, ConsumerGroups groups, Retention retention,
            MaintenancePolicy maintenance) {
        this.name = name;
        this.connection = connection;
        this.groups = groups;
        this.maxLength = retention.maxLength();
        this.retention = retention.maxAge();
        this.maintenance = maintenance;
    }

    /** After {@code count} entries were added to the stream: with {@code max-length}, trims it now and then. */
    void published(String stream, int count) {
        if (maxLength <= 0) {
            return;
        }
        // Trim now and then rather than on every XADD: a safe trim costs a few round trips.
        long every = Math.max(1, maxLength / 10);
        AtomicLong since = publishedSinceTrim.computeIfAbsent(stream, s -> new AtomicLong());
        if (since.addAndGet(count) >= every) {
            since.set(0);
            try {
                trim(stream, maxLength);
            } catch (BrokerException e) {
                LOG.log(Level.WARNING, "broker ''{0}'': trimming stream ''{1}'' failed: {2}", name, stream,
                        e.getMessage());
            }
        }
    }

    /**
     * Trims the stream to about {@code maxLength} entries. With consumer groups, never past the first entry any group
     * still needs: the lowest of each group's last-delivered id and first pending id (MINID). Without groups,
     * MAXLEN ~.
     */
    long trim(String stream, long maxLength) {
        long length = connection.execute("XLEN", j -> j.xlen(stream));
        if (length <= maxLength) {
            return 0;
        }
        List<StreamGroupInfo> groupInfos = connection.execute("XINFO GROUPS", j -> j.xinfoGroups(stream));
        if (groupInfos.isEmpty()) {
            return connection.execute("XTRIM", j -> j.xtrim(stream,
                    XTrimParams.xTrimParams().maxLen(maxLength).approximateTrimming()));
        }
        StreamEntryID keepFrom = firstNeeded(stream, groupInfos);
        // The first entry to keep for maxLength: the (length - maxLength + 1)th.
        long skip = length - maxLength + 1;
        StreamEntryID cut = null;
        String start = "-";
        while (skip > 0) {
            String from = start;
            int count = (int) Math.min(1000, skip);
            List<StreamEntry> page = connection.execute("XRANGE", j -> j.xrange(stream, from, "+", count));
            if (page.isEmpty()) {
                break;
            }
            skip -= page.size();
            cut = page.get(page.size() - 1).getID();
            start = "(" + cut;
        }
        if (cut == null) {
            return 0;
        }
        StreamEntryID minId = cut.compareTo(keepFrom) < 0 ? cut : keepFrom;
        return connection.execute("XTRIM", j -> j.xtrim(stream, XTrimParams.xTrimParams().minId(minId.toString())));
    }

    /**
     * The first entry some group still needs: the lowest of each group's last-delivered id and first pending id;
     * {@code null} without groups.
     */
    private StreamEntryID firstNeeded(String stream, List<StreamGroupInfo> groupInfos) {
        StreamEntryID keepFrom = null;
        for (StreamGroupInfo info : groupInfos) {
            StreamEntryID needed = info.getLastDeliveredId();
            if (info.getPending() > 0) {
                StreamPendingSummary summary = connection.execute("XPENDING",
                        j -> j.xpending(stream, info.getName()));
                if (summary.getMinId() != null && summary.getMinId().compareTo(needed) < 0) {
                    needed = summary.getMinId();
                }
            }
            keepFrom = keepFrom == null || needed.compareTo(keepFrom) < 0 ? needed : keepFrom;
        }
        return keepFrom;
    }

    /**
     * Removes the entries added before {@code cutoffMs} that every group has acknowledged: XTRIM MINID of the lower
     * of the cutoff and the first entry a group still needs.
     */
    private long trimOlderThan(String stream, long cutoffMs) {
        StreamEntryID cut = new StreamEntryID(cutoffMs, 0);
        StreamEntryID keepFrom = firstNeeded(stream, groups.infos(stream));
        StreamEntryID minId = keepFrom == null || cut.compareTo(keepFrom) < 0 ? cut : keepFrom;
        return connection.execute("XTRIM", j -> j.xtrim(stream, XTrimParams.xTrimParams().minId(minId.toString())));
    }

    /**
     * For each known stream: XTRIM {@code <stream>:dlq} MINID (now - dead-letter-retention), exact, so that no
     * younger dead letter goes; the stream's own entries past {@code retention}; then XLEN of the dead letters. The
     * dead letters' time is that of their entry ids, which Redis gives when they are added.
     */
    Map<String, Long> maintain() {
        long now = System.currentTimeMillis();
        Map<String, Long> depths = new TreeMap<>();
        for (String stream : groups.streams()) {
            String dlq = DeadLetterQueue.key(stream);
            if (maintenance.expiresDeadLetters()) {
                String minId = (now - maintenance.deadLetterRetention().toMillis()) + "-0";
                long removed = connection.execute("XTRIM", j -> j.xtrim(dlq, XTrimParams.xTrimParams().minId(minId)));
                if (removed > 0) {
                    LOG.log(Level.DEBUG, () -> "broker '" + name + "': " + removed + " dead letter(s) of stream '"
                            + stream + "' older than dead-letter-retention removed");
                }
            }
            if (!retention.isZero()) {
                trimOlderThan(stream, now - retention.toMillis());
            }
            depths.put(stream, connection.execute("XLEN", j -> j.xlen(dlq)));
        }
        return depths;
    }
}
