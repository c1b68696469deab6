package dev.courier;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@link Broker#publishAll publishAll} got an answer for every message, but the broker refused some of them (an error
 * reply, such as Redis's {@code OOM} when {@code maxmemory} is reached): those were not stored, the others were.
 * Publish again only the {@link #notStored() messages not stored}, and keep the {@link #storedIds() ids of those
 * stored}. The cause is the first refusal.
 */
public class PartialPublishException extends BrokerException {

    private static final long serialVersionUID = 1L;

    private final Map<Integer, String> storedIds;
    private final List<Integer> notStored;

    /**
     * @param storedIds the index in the published list of each message stored, with its id
     * @param notStored the indexes of the messages not stored, in order
     */
    public PartialPublishException(String message, Map<Integer, String> storedIds, List<Integer> notStored,
                                   Throwable cause) {
        super(message, cause);
        this.storedIds = Collections.unmodifiableMap(new TreeMap<>(storedIds));
        this.notStored = List.copyOf(notStored);
    }

    /** The messages that were stored: index in the published list to message id, in index order. */
    public Map<Integer, String> storedIds() {
        return storedIds;
    }

    /** The indexes in the published list of the messages that were not stored, in order. */
    public List<Integer> notStored() {
        return notStored;
    }
}
