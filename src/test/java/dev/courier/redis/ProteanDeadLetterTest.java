package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.DeadLetter;
import dev.courier.Message;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XAddParams;
import redis.clients.jedis.resps.StreamEntry;

import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Dead letters shared with Protean services: what Courier writes is what Protean's DLQ listing and replay read
 * (through plain Jedis here), and Courier reads and replays Protean's dead letters and those Courier 0.1.0 wrote.
 */
@WithRedis
class ProteanDeadLetterTest {

    private static RedisServer redis;
    private final List<Broker> brokers = new ArrayList<>();
    private Jedis jedis;
    private String stream;

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @BeforeEach
    void connect() {
        stream = "orders-" + UUID.randomUUID();
        jedis = new Jedis(redis.host(), redis.port());
    }

    @AfterEach
    void close() {
        brokers.forEach(Broker::close);
        jedis.close();
    }

    private RedisBroker broker(int maxRetries) {
        RedisBroker broker = (RedisBroker) new RedisBrokerProvider().create("test", RedisBrokerContractTest.settings(
                redis.uri(), new RetryPolicy(maxRetries, Duration.ofMillis(50), 1.0, Duration.ofSeconds(30), true),
                Map.of("consumer-name", "courier-1")));
        brokers.add(broker);
        return broker;
    }

    private static JsonObject json(String text) {
        try (JsonReader reader = Json.createReader(new StringReader(text))) {
            return reader.readObject();
        }
    }

    /** The dead letters as Protean's dlq_list reads them: only entries with a data field. */
    private List<StreamEntry> dlq() {
        return jedis.xrange(stream + ":dlq", (StreamEntryID) null, (StreamEntryID) null);
    }

    @Test
    void a_dead_letter_is_the_original_message_plus_dlq_metadata_as_protean_writes_it() {
        RedisBroker broker = broker(0);
        String original = "{\"order_id\":\"810a\",\"amount\":12.5,\"note\":\"caf\\u00e9\"}";
        String id = jedis.xadd(stream, XAddParams.xAddParams(), Map.of("data", original)).toString();
        Message read = broker.getNext(stream, "app.Sub").orElseThrow();
        Instant before = Instant.now();
        assertTrue(broker.nack(stream, read.id(), "app.Sub"), "max-retries 0: dead-lettered at the first nack");

        List<StreamEntry> letters = dlq();
        assertEquals(1, letters.size());
        assertEquals(List.of("data"), List.copyOf(letters.get(0).getFields().keySet()), "one field, data");
        String data = letters.get(0).getFields().get("data");
        assertTrue(data.startsWith(original.substring(0, original.length() - 1) + ","),
                "the original text is kept as it was: " + data);
        JsonObject letter = json(data);
        assertEquals("810a", letter.getString("order_id"));
        assertEquals(12.5, letter.getJsonNumber("amount").doubleValue());
        assertEquals("café", letter.getString("note"));
        JsonObject metadata = letter.getJsonObject("_dlq_metadata");
        assertEquals(stream, metadata.getString("original_stream"));
        assertEquals(id, metadata.getString("original_id"));
        assertEquals("app.Sub", metadata.getString("consumer_group"));
        assertEquals("courier-1", metadata.getString("consumer"));
        assertEquals(1, metadata.getInt("retry_count"));
        assertEquals("max_retries_exceeded", metadata.getString("failure_reason"));
        OffsetDateTime failedAt = OffsetDateTime.parse(metadata.getString("failed_at"));
        assertEquals(ZoneOffset.UTC, failedAt.getOffset());
        assertTrue(metadata.getString("failed_at").endsWith("+00:00"), "as Python's isoformat() writes UTC");
        assertFalse(failedAt.toInstant().isBefore(before.minusSeconds(1)));

        DeadLetter read2 = broker.deadLetters(stream, 10).get(0);
        assertEquals(id, read2.message().id());
        assertEquals(Map.of("order_id", "810a", "amount", 12.5, "note", "café"), read2.message().payload());
        assertEquals("app.Sub", read2.group());
        assertEquals("courier-1", read2.consumer());
        assertEquals(1, read2.attempts());
        assertEquals(DeadLetter.MAX_RETRIES_EXCEEDED, read2.reason());
        assertTrue(read2.replayable());

        assertTrue(broker.replayDeadLetter(stream, read2.id()));
        assertEquals(List.of(), dlq());
        List<StreamEntry> entries = jedis.xrange(stream, (StreamEntryID) null, (StreamEntryID) null);
        JsonObject replayed = json(entries.get(entries.size() - 1).getFields().get("data"));
        assertFalse(replayed.containsKey("_dlq_metadata"), "replay publishes the message without the metadata");
        assertEquals("810a", replayed.getString("order_id"));
        System.out.println("dead letter as Protean reads it: " + data);
    }

    @Test
    void protean_dead_letters_are_read_from_their_metadata_and_replayed_without_it() {
        RedisBroker broker = broker(3);
        String full = jedis.xadd(stream + ":dlq", XAddParams.xAddParams(), Map.of("data",
                "{\"order_id\": \"1\", \"qty\": 2, \"_dlq_metadata\": {\"original_stream\": \"" + stream + "\", "
                        + "\"original_id\": \"1700000000000-0\", \"consumer_group\": \"app.Sub\", "
                        + "\"consumer\": \"host-123\", \"failed_at\": \"2026-12-01T09:52:32.626327+00:00\", "
                        + "\"retry_count\": 3, \"failure_reason\": \"max_retries_exceeded\"}}")).toString();
        String sparse = jedis.xadd(stream + ":dlq", XAddParams.xAddParams(), Map.of("data",
                "{\"order_id\": \"2\", \"_dlq_metadata\": {\"original_stream\": \"" + stream + "\", "
                        + "\"original_id\": \"1700000000001-0\", \"consumer_group\": \"app.Sub\", "
                        + "\"failed_at\": \"2026-12-01T09:52:33+00:00\", \"retry_count\": 2}}")).toString();
        String bare = jedis.xadd(stream + ":dlq", XAddParams.xAddParams(), Map.of("data",
                "{\"order_id\": \"3\", \"_dlq_metadata\": {}}")).toString();

        List<DeadLetter> letters = broker.deadLetters(stream, 10);
        assertEquals(List.of(bare, sparse, full), letters.stream().map(DeadLetter::id).toList(), "newest first");
        DeadLetter f = letters.get(2);
        assertEquals("1700000000000-0", f.message().id());
        assertEquals(stream, f.message().stream());
        assertEquals(Map.of("order_id", "1", "qty", 2), f.message().payload(), "no _dlq_metadata in the message");
        assertEquals("app.Sub", f.group());
        assertEquals("host-123", f.consumer());
        assertEquals(3, f.attempts());
        assertEquals(DeadLetter.MAX_RETRIES_EXCEEDED, f.reason());
        assertEquals(Instant.parse("2026-12-01T09:52:32.626327Z"), f.failedAt());

        DeadLetter s = letters.get(1);
        assertEquals("unknown", s.reason(), "no failure_reason: read as Protean reads it");
        assertNull(s.consumer());
        assertEquals(2, s.attempts());

        DeadLetter b = letters.get(0);
        assertEquals(bare, b.message().id(), "no original_id: the dead letter's own id, as Protean reads it");
        assertEquals("", b.group());
        assertEquals(0, b.attempts());
        assertEquals("unknown", b.reason());
        assertEquals(Map.of("order_id", "3"), b.message().payload());

        assertEquals(3, broker.replayAllDeadLetters(stream));
        assertEquals(0, broker.deadLetterDepth(stream));
        List<String> replayed = new ArrayList<>();
        for (StreamEntry entry : jedis.xrange(stream, (StreamEntryID) null, (StreamEntryID) null)) {
            JsonObject message = json(entry.getFields().get("data"));
            assertFalse(message.containsKey("_dlq_metadata"), entry.getFields().get("data"));
            replayed.add(message.getString("order_id"));
        }
        assertEquals(List.of("1", "2", "3"), replayed, "oldest first");
    }

    @Test
    void dead_letters_courier010_wrote_stay_readable_and_replayable() {
        RedisBroker broker = broker(3);
        Map<String, String> old = new LinkedHashMap<>();
        old.put("data", "{\"order_id\":\"7\"}");
        old.put("original_stream", stream);
        old.put("original_id", "1700000000007-0");
        old.put("consumer_group", "app.Sub");
        old.put("consumer", "host-1");
        old.put("failed_at", "2026-11-30T10:00:00.123Z");
        old.put("retry_count", "4");
        old.put("reason", "timeout");
        String oldId = jedis.xadd(stream + ":dlq", XAddParams.xAddParams(), old).toString();
        Map<String, String> oldMalformed = new LinkedHashMap<>();
        oldMalformed.put("fields", "{\"payload\":\"x\"}");
        oldMalformed.put("original_stream", stream);
        oldMalformed.put("original_id", "1700000000008-0");
        oldMalformed.put("consumer_group", "app.Sub");
        oldMalformed.put("consumer", "host-1");
        oldMalformed.put("failed_at", "2026-11-30T10:00:01Z");
        oldMalformed.put("retry_count", "1");
        oldMalformed.put("reason", "malformed");
        String oldMalformedId = jedis.xadd(stream + ":dlq", XAddParams.xAddParams(), oldMalformed).toString();

        DeadLetter letter = broker.deadLetter(stream, oldId).orElseThrow();
        assertEquals("1700000000007-0", letter.message().id());
        assertEquals(Map.of("order_id", "7"), letter.message().payload());
        assertEquals("app.Sub", letter.group());
        assertEquals("host-1", letter.consumer());
        assertEquals(4, letter.attempts());
        assertEquals(DeadLetter.TIMEOUT, letter.reason());
        assertEquals(Instant.parse("2026-11-30T10:00:00.123Z"), letter.failedAt());

        DeadLetter malformed = broker.deadLetter(stream, oldMalformedId).orElseThrow();
        assertEquals(DeadLetter.MALFORMED, malformed.reason());
        assertFalse(malformed.replayable());
        assertEquals(1, malformed.originalEntry().size());
        assertArrayEquals("payload".getBytes(StandardCharsets.UTF_8), malformed.originalEntry().get(0).name());
        assertArrayEquals("x".getBytes(StandardCharsets.UTF_8), malformed.originalEntry().get(0).value());

        assertEquals(1, broker.replayAllDeadLetters(stream), "the malformed one is not replayed");
        List<StreamEntry> entries = jedis.xrange(stream, (StreamEntryID) null, (StreamEntryID) null);
        assertEquals(List.of("{\"order_id\":\"7\"}"), entries.stream().map(e -> e.getFields().get("data")).toList());
        assertEquals(List.of(oldMalformedId), dlq().stream().map(e -> e.getID().toString()).toList());
    }

    @Test
    void a_malformed_entry_is_dead_lettered_so_protean_lists_it_and_its_bytes_come_back_exactly() {
        RedisBroker broker = broker(3);
        byte[] key = stream.getBytes(StandardCharsets.UTF_8);
        // {"a":"<0xff 0xfe>"}: JSON, but not UTF-8. Today's decoders would make it U+FFFD and deliver it.
        byte[] notUtf8 = {'{', '"', 'a', '"', ':', '"', (byte) 0xff, (byte) 0xfe, '"', '}'};
        byte[] name = {'x', (byte) 0xc3};
        byte[] value = {0, 1, (byte) 0x80};
        Map<byte[], byte[]> fields = new LinkedHashMap<>();
        fields.put("data".getBytes(StandardCharsets.UTF_8), notUtf8);
        fields.put(name, value);
        String badId = new String(jedis.xadd(key, XAddParams.xAddParams(), fields), StandardCharsets.US_ASCII);
        String noDataId = jedis.xadd(stream, XAddParams.xAddParams(), Map.of("payload", "{\"a\":1}")).toString();
        String replacement = jedis.xadd(stream, XAddParams.xAddParams(), Map.of("data", "{\"a\":\"\uFFFD\"}"))
                .toString();
        String good = broker.publish(stream, Map.of("ok", true));

        List<Message> read = broker.read(stream, "app.Sub", 10);
        assertEquals(List.of(replacement, good), read.stream().map(Message::id).toList(),
                "a U+FFFD that is in the text, as UTF-8, is a character like any other");
        assertEquals("\uFFFD", read.get(0).payload().get("a"));

        List<StreamEntry> listed = dlq();
        assertEquals(2, listed.size());
        for (StreamEntry entry : listed) {
            assertEquals(List.of("data"), List.copyOf(entry.getFields().keySet()), "Protean lists entries with data");
            JsonObject metadata = json(entry.getFields().get("data")).getJsonObject("_dlq_metadata");
            assertEquals("malformed", metadata.getString("failure_reason"));
            assertEquals("app.Sub", metadata.getString("consumer_group"));
        }
        JsonObject badMetadata = json(listed.get(0).getFields().get("data")).getJsonObject("_dlq_metadata");
        assertEquals(badId, badMetadata.getString("original_id"));
        var pairs = badMetadata.getJsonArray("original_fields_base64");
        assertArrayEquals(notUtf8, Base64.getDecoder().decode(pairs.getJsonArray(0).getString(1)));
        assertArrayEquals(name, Base64.getDecoder().decode(pairs.getJsonArray(1).getString(0)));

        List<DeadLetter> letters = broker.deadLetters(stream, 10);
        DeadLetter bad = letters.get(1);
        assertEquals(badId, bad.message().id());
        assertEquals(DeadLetter.MALFORMED, bad.reason());
        assertEquals(2, bad.originalEntry().size());
        assertArrayEquals("data".getBytes(StandardCharsets.UTF_8), bad.originalEntry().get(0).name());
        assertArrayEquals(notUtf8, bad.originalEntry().get(0).value(), "the original bytes, not U+FFFD");
        assertArrayEquals(name, bad.originalEntry().get(1).name());
        assertArrayEquals(value, bad.originalEntry().get(1).value());
        assertEquals(noDataId, letters.get(0).message().id());
        assertArrayEquals("payload".getBytes(StandardCharsets.UTF_8), letters.get(0).originalEntry().get(0).name());

        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> broker.replayDeadLetter(stream, bad.id()));
        assertTrue(refused.getMessage().contains(bad.id()) && refused.getMessage().contains("malformed"),
                refused.getMessage());
        assertEquals(2, broker.deadLetterDepth(stream), "a refused replay keeps the dead letter");
        System.out.println("malformed dead letter: " + listed.get(0).getFields().get("data"));
    }
}
