package dev.courier.redis;

import dev.courier.Message;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads a plain stream with its backfill lane, as Protean's stream subscription does with priority lanes on: the
 * stream first, without waiting; only when it gives nothing, the lane {@code <stream>:<suffix>}; when neither gives
 * anything, a wait on the stream. Each lane is a group of its own to Redis ({@link GroupReader} reads it, with its
 * pending recovery and XAUTOCLAIM), so a lane's entries stay pending on the lane until acknowledged there.
 *
 * <p>A message from the lane has the id {@code <suffix>:<entryId>} (an entry id has no colon) and the lane as its
 * stream, so that an ack, a nack or a dead letter given the stream's name finds the lane: the engine settles by its
 * loop's stream. Order holds within a lane only.
 */
final class PriorityLanes {

    private final LaneSettings lanes;
    private final GroupReader reader;
    private final ConsumerGroups groups;
    private final String prefix;

    PriorityLanes(LaneSettings lanes, GroupReader reader, ConsumerGroups groups) {
        this.lanes = lanes;
        this.reader = reader;
        this.groups = groups;
        this.prefix = lanes.suffix() + ":";
    }

    /** A message's stream entry: the lane's when its id is {@code <suffix>:<entryId>}, else the stream's. */
    record Entry(String stream, String id) {
    }

    Entry resolve(String stream, String messageId) {
        return messageId.startsWith(prefix) ? new Entry(lanes.lane(stream), messageId.substring(prefix.length()))
                : new Entry(stream, messageId);
    }

    /**
     * Up to {@code max} messages of the stream, else of its lane; {@code acks} of either go to the lane they came
     * from. Waits up to {@code blockMs} on the stream when both are empty: an entry that reaches the lane meanwhile
     * waits for the next read (at most the block timeout later).
     */
    List<Message> read(String stream, String group, int max, long blockMs, List<String> acks) {
        String lane = lanes.lane(stream);
        // The lane's group exists from the first read on, as the stream's: Protean's publishers may write to it
        // at any time, and a stream that grows without a group is one that Protean's reaper does not protect.
        groups.ensure(groups.state(lane, group));
        Split split = split(acks);
        List<String> streamAcks = split.stream();
        List<String> laneAcks = split.lane();
        List<Message> out = reader.read(stream, group, max, 0L, streamAcks);
        if (!out.isEmpty()) {
            if (!laneAcks.isEmpty()) {
                reader.ackAll(lane, laneAcks, group);
            }
            return out;
        }
        List<Message> low = reader.read(lane, group, max, 0L, laneAcks);
        if (!low.isEmpty()) {
            List<Message> tagged = new ArrayList<>(low.size());
            for (Message m : low) {
                tagged.add(new Message(prefix + m.id(), m.stream(), m.payload(), m.deliveryCount(),
                        m.traceContext()));
            }
            return tagged;
        }
        return blockMs > 0 ? reader.read(stream, group, max, blockMs, List.of()) : out;
    }

    /** One XACK per lane for the ids of it. */
    int ackAll(String stream, List<String> ids, String group) {
        Split split = split(ids);
        int acked = split.stream().isEmpty() ? 0 : reader.ackAll(stream, split.stream(), group);
        return split.lane().isEmpty() ? acked : acked + reader.ackAll(lanes.lane(stream), split.lane(), group);
    }

    /** Message ids parted into the stream's entry ids and the lane's (without their prefix). */
    private record Split(List<String> stream, List<String> lane) {
    }

    private Split split(List<String> ids) {
        if (ids.isEmpty()) {
            return new Split(ids, List.of());
        }
        List<String> streamIds = new ArrayList<>(ids.size());
        List<String> laneIds = new ArrayList<>();
        for (String id : ids) {
            if (id.startsWith(prefix)) {
                laneIds.add(id.substring(prefix.length()));
            } else {
                streamIds.add(id);
            }
        }
        return new Split(streamIds, laneIds);
    }
}
