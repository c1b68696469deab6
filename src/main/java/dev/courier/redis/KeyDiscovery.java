package dev.courier.redis;

import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The keys of a partitioned category that a group knows of, found without reading the whole index each heartbeat:
 * SCARD each beat, SSCAN (a few pages per beat) only while it changed, and a full pass now and then. The group is
 * created on each new key at once, so that Protean's reaper protects it.
 */
final class KeyDiscovery {

    /** SSCAN COUNT, about the keys a page gives. */
    private static final int PAGE = 1000;
    /** Heartbeats between full index scans while SCARD stays the same (a reap and a new key can cancel out). */
    private static final int FULL_SCAN_EVERY = 20;
    /** SSCAN pages per heartbeat at most: 10,000 keys are found in one. */
    private static final int SCAN_PAGES = 10;

    private final RedisConnection connection;
    private final String category;
    private final String group;
    private final OwnedKeys owned;
    private final Set<String> known = ConcurrentHashMap.newKeySet();
    private String scanCursor;
    private Set<String> scanned;
    private long lastCardinality = -1;
    private int beats;

    KeyDiscovery(RedisConnection connection, String category, String group, OwnedKeys owned) {
        this.connection = connection;
        this.category = category;
        this.group = group;
        this.owned = owned;
    }

    /** The keys known, a live view. */
    Set<String> known() {
        return known;
    }

    /** A key reaped: gone from the index. */
    void forget(String key) {
        known.remove(key);
    }

    /** One heartbeat's discovery. */
    void discover() {
        String index = PartitionedStreams.index(category);
        beats++;
        if (scanCursor == null) {
            long cardinality = connection.execute("SCARD", j -> j.scard(index));
            if (cardinality == lastCardinality && beats % FULL_SCAN_EVERY != 0) {
                return;
            }
            lastCardinality = cardinality;
            scanCursor = ScanParams.SCAN_POINTER_START;
            scanned = new HashSet<>();
        }
        int pages = 0;
        do {
            pages++;
            String cursor = scanCursor;
            ScanResult<String> page = connection.execute("SSCAN", j -> j.sscan(index, cursor,
                    new ScanParams().count(PAGE)));
            List<String> fresh = new ArrayList<>();
            for (String key : page.getResult()) {
                scanned.add(key);
                if (PartitionKey.rule(key) == null && known.add(key)) {
                    fresh.add(key);
                }
            }
            if (!fresh.isEmpty()) {
                createGroups(fresh);
            }
            scanCursor = page.getCursor();
        } while (!scanCursor.equals(ScanParams.SCAN_POINTER_START) && pages < SCAN_PAGES);
        if (scanCursor.equals(ScanParams.SCAN_POINTER_START)) {
            known.retainAll(scanned); // reaped keys are gone
            scanCursor = null;
            scanned = null;
        }
    }

    /**
     * Keys whose group is gone: their stream was reaped (by Protean, say) and maybe published to again. The group is
     * created again where the stream is back; the others are given up and forgotten until the index names them.
     */
    void rediscover(List<String> keys) {
        List<OwnedKey> gone = new ArrayList<>();
        for (String key : keys) {
            if (key.indexOf(':') >= 0) {
                // A lane (<key>:<suffix>): its group again, the stream made if need be; its key's own read tells
                // whether the key was reaped.
                createGroups(List.of(key));
                continue;
            }
            String stream = PartitionedStreams.stream(category, key);
            boolean exists = connection.execute("EXISTS", j -> j.exists(stream));
            if (exists) {
                createGroups(List.of(key));
                continue;
            }
            OwnedKey o = owned.get(key);
            if (o != null) {
                gone.add(o);
            }
            known.remove(key);
        }
        owned.release(gone);
    }

    /**
     * XGROUP CREATE ... 0 MKSTREAM on each new key at once (and on its backfill lane with lanes on), so that
     * Protean's reaper sees the group.
     */
    private void createGroups(List<String> keys) {
        String suffix = owned.laneSuffix();
        connection.execute("XGROUP CREATE (partitions)", j -> {
            try (redis.clients.jedis.AbstractPipeline pipeline = j.pipelined()) {
                for (String key : keys) {
                    pipeline.xgroupCreate(PartitionedStreams.stream(category, key), group, new StreamEntryID(0, 0),
                            true);
                    if (suffix != null && key.indexOf(':') < 0) {
                        pipeline.xgroupCreate(PartitionedStreams.stream(category, owned.lane(key)), group,
                                new StreamEntryID(0, 0), true);
                    }
                }
                pipeline.sync(); // BUSYGROUP replies are expected: the group exists already
            }
            return null;
        });
    }
}
