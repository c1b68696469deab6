package dev.courier.bench;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.JsonWriter;
import dev.courier.Broker;
import dev.courier.internal.JsonCodec;
import jakarta.json.Json;
import jakarta.json.stream.JsonGenerator;
import jakarta.json.stream.JsonGeneratorFactory;
import jakarta.json.stream.JsonParser;
import jakarta.json.stream.JsonParserFactory;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.resps.StreamEntry;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Courier's JSON codec against Gson's streaming API (which Jedis brings) and JSON-P (Parsson, which servers bring),
 * each doing the same job: payload types out (Integer, Long, BigInteger, Double, unmodifiable maps and lists), at
 * most 4,300 digits a number and 512 levels, non-finite numbers refused on writing.
 *
 * <p>Two kinds of rows. The paths that matter, with only the codec swapped: "publishAll-shaped" encodes each batch
 * of {@value Bench#BATCH} with the codec, then sends it in one pipeline; "consume-shaped" reads batches with
 * XREADGROUP, parses each entry with the codec, and XACKs each batch. Each is a ratio to its raw counterpart, in the
 * same rounds as Courier's own publishAll and engine consume. Then the codecs alone, parse and write of a small
 * event, a 1 KB and a 10 KB payload, in CPU ns per operation ({@code -Dbench.only=codec-micro}: only these).
 */
final class CodecBench {

    /** A JSON codec as Courier uses one: a payload to text (checked) and text to a payload. */
    interface Codec {
        String name();

        String write(Map<String, Object> payload);

        Map<String, Object> parse(String json);
    }

    static final Codec COURIER = new Codec() {
        public String name() {
            return "Courier JsonCodec";
        }

        public String write(Map<String, Object> payload) {
            return JsonCodec.toJson(payload);
        }

        public Map<String, Object> parse(String json) {
            return JsonCodec.parse(json);
        }
    };

    static final Codec GSON = new GsonCodec();
    static final Codec JSONP = new JsonpCodec();
    static final List<Codec> CODECS = List.of(COURIER, GSON, JSONP);

    private static volatile long sink;

    private CodecBench() {
    }

    static void run(Broker courier) throws Exception {
        long start = System.nanoTime();
        for (Codec codec : CODECS) {
            sameAsCourier(codec);
        }
        if (System.getProperty("bench.only", "").contains("codec-micro")) { // the codecs alone, no Redis
            micro();
            Bench.progress("codec", start);
            return;
        }
        // Warm-up of the shaped paths.
        for (int i = 0; i < 2; i++) {
            Bench.rawPipelined(20_000);
            Bench.publishAll(courier, 20_000);
            for (Codec codec : CODECS) {
                pipelined(codec, 20_000);
                consume(codec, 20_000);
            }
        }
        int many = Bench.n(300_000);
        List<Bench.Measure> publishSides = new ArrayList<>();
        publishSides.add(() -> Bench.rawPipelined(many));
        publishSides.add(() -> Bench.publishAll(courier, many));
        for (Codec codec : CODECS) {
            publishSides.add(() -> pipelined(codec, many));
        }
        double[][] publish = rounds(publishSides);
        double rawPipe = Bench.median(publish[0]);
        Bench.row("raw Jedis XADD, pipelined x" + Bench.BATCH + " (codec section)", Bench.rate(rawPipe), "", "", "");
        Bench.ratioRow("Courier publishAll x" + Bench.BATCH + " (codec section)", Bench.median(publish[1]), rawPipe,
                "raw XADD pipelined", 0);
        for (int i = 0; i < CODECS.size(); i++) {
            Bench.ratioRow("publishAll-shaped: " + CODECS.get(i).name() + " write + pipelined XADD",
                    Bench.median(publish[i + 2]), rawPipe, "raw XADD pipelined", 0);
        }

        int n = Bench.n(200_000);
        List<Bench.Measure> consumeSides = new ArrayList<>();
        consumeSides.add(() -> Bench.rawConsume(n));
        consumeSides.add(() -> Bench.engineConsume(n));
        for (Codec codec : CODECS) {
            consumeSides.add(() -> consume(codec, n));
        }
        double[][] consume = rounds(consumeSides);
        double rawRate = Bench.median(consume[0]);
        Bench.row("raw Jedis XREADGROUP COUNT " + Bench.BATCH + " + XACK (codec section)", Bench.rate(rawRate), "",
                "", "");
        Bench.ratioRow("Courier engine, no-op handler (codec section)", Bench.median(consume[1]), rawRate,
                "raw batch consume", 0);
        for (int i = 0; i < CODECS.size(); i++) {
            Bench.ratioRow("consume-shaped: XREADGROUP + " + CODECS.get(i).name() + " parse + XACK",
                    Bench.median(consume[i + 2]), rawRate, "raw batch consume", 0);
        }
        micro();
        Bench.progress("codec", start);
    }

    /** Each side once a round, in turn, on a collected heap; [side][round]. */
    private static double[][] rounds(List<Bench.Measure> sides) throws Exception {
        double[][] r = new double[sides.size()][Bench.ROUNDS];
        for (int round = 0; round < Bench.ROUNDS; round++) {
            for (int side = 0; side < sides.size(); side++) {
                System.gc();
                r[side][round] = sides.get(side).run();
            }
        }
        for (double[] side : r) {
            StringBuilder text = new StringBuilder("    rounds");
            for (double v : side) {
                text.append(String.format(Locale.ROOT, " %,.0f", v));
            }
            System.err.println(text);
        }
        return r;
    }

    /** As Courier's publishAll sends: the whole batch written (checked) first, then one pipeline. */
    private static double pipelined(Codec codec, int n) {
        String s = Bench.stream("codec-pipelined");
        long t = System.nanoTime();
        List<String> texts = new ArrayList<>(Bench.BATCH);
        for (int sent = 0; sent < n; sent += Bench.BATCH) {
            texts.clear();
            for (int i = 0; i < Bench.BATCH; i++) {
                texts.add(codec.write(Bench.PAYLOAD));
            }
            try (AbstractPipeline p = Bench.raw.pipelined()) {
                for (String text : texts) {
                    p.xadd(s, Bench.XADD, Map.of("data", text));
                }
                p.sync();
            }
        }
        return Bench.done(s, n, t);
    }

    /** As the raw batch consume, each entry's data parsed by the codec. */
    private static double consume(Codec codec, int n) {
        String s = Bench.backlog(n);
        XReadGroupParams params = XReadGroupParams.xReadGroupParams().count(Bench.BATCH);
        Map<String, StreamEntryID> key = Map.of(s, StreamEntryID.XREADGROUP_UNDELIVERED_ENTRY);
        long t = System.nanoTime();
        int consumed = 0;
        long fields = 0;
        while (consumed < n) {
            List<StreamEntry> entries = Bench.raw.xreadGroup(Bench.GROUP, "codec", params, key).get(0).getValue();
            StreamEntryID[] ids = new StreamEntryID[entries.size()];
            for (int i = 0; i < ids.length; i++) {
                StreamEntry entry = entries.get(i);
                fields += codec.parse(entry.getFields().get("data")).size();
                ids[i] = entry.getID();
            }
            Bench.raw.xack(s, Bench.GROUP, ids);
            consumed += ids.length;
        }
        double rate = n / ((System.nanoTime() - t) / 1e9);
        sink += fields;
        Bench.requireAcknowledged(s);
        Bench.raw.del(s);
        return rate;
    }

    // The codecs alone

    private static void micro() {
        Map<String, Map<String, Object>> payloads = new LinkedHashMap<>();
        payloads.put("small event (" + JsonCodec.write(Bench.PAYLOAD).length() + " B)", Bench.PAYLOAD);
        payloads.put("1 KB payload", sized(1024));
        payloads.put("10 KB payload", sized(10 * 1024));
        for (Map.Entry<String, Map<String, Object>> entry : payloads.entrySet()) {
            Map<String, Object> payload = entry.getValue();
            String json = JsonCodec.write(payload);
            double[][] parse = new double[CODECS.size()][Bench.ROUNDS];
            double[][] write = new double[CODECS.size()][Bench.ROUNDS];
            for (int round = -1; round < Bench.ROUNDS; round++) { // round -1 warms up
                for (int c = 0; c < CODECS.size(); c++) {
                    Codec codec = CODECS.get(c);
                    double p = nanosPerOp(() -> codec.parse(json).size());
                    double w = nanosPerOp(() -> codec.write(payload).length());
                    if (round >= 0) {
                        parse[c][round] = p;
                        write[c][round] = w;
                    }
                }
            }
            microRows("parse", entry.getKey(), parse);
            microRows("write", entry.getKey(), write);
        }
    }

    private static void microRows(String what, String payload, double[][] nanos) {
        double courier = Bench.median(nanos[0]);
        for (int c = 0; c < CODECS.size(); c++) {
            double median = Bench.median(nanos[c]);
            Bench.row(what + " " + payload + ": " + CODECS.get(c).name(),
                    String.format(Locale.ROOT, "%,.0f ns/op", median),
                    String.format(Locale.ROOT, "%.2fx Courier's speed", courier / median), "", "");
        }
    }

    private static final java.lang.management.ThreadMXBean THREADS =
            java.lang.management.ManagementFactory.getThreadMXBean();

    /**
     * The mean CPU time of the operation on this thread, over about 200 ms of it (scaled): CPU time, not wall time,
     * so that other processes on a busy machine do not count.
     */
    private static double nanosPerOp(java.util.function.IntSupplier operation) {
        long budget = (long) (200_000_000L * Math.min(1, Math.max(0.2, Bench.scale())));
        long ops = 0;
        long total = 0;
        long t = THREADS.getCurrentThreadCpuTime();
        long elapsed;
        do {
            for (int i = 0; i < 100; i++) {
                total += operation.getAsInt();
            }
            ops += 100;
            elapsed = THREADS.getCurrentThreadCpuTime() - t;
        } while (elapsed < budget);
        sink += total;
        return (double) elapsed / ops;
    }

    /** A payload of about {@code bytes} bytes of JSON: orders with lines, strings with escapes and non-ASCII. */
    static Map<String, Object> sized(int bytes) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("event_type", "order.placed");
        p.put("order_id", 1234567);
        p.put("customer", Map.of("id", "c-42", "name", "Zoë \"Zed\" Müller", "vip", true));
        List<Object> lines = new ArrayList<>();
        p.put("lines", lines);
        int i = 0;
        while (JsonCodec.write(p).length() < bytes) {
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("sku", "SKU-" + (100_000 + i));
            line.put("quantity", 1 + i % 7);
            line.put("price", 9.99 + i);
            line.put("total", 5_000_000_000L + i);
            line.put("note", i % 3 == 0 ? "gift\nwrap – €" : null);
            lines.add(line);
            i++;
        }
        return JsonCodec.toPayload(p);
    }

    /** Each codec gives Courier's text and Courier's payload: the rows compare the same work. */
    private static void sameAsCourier(Codec codec) {
        for (Map<String, Object> payload : List.of(Bench.PAYLOAD, sized(1024), sized(10 * 1024))) {
            String json = JsonCodec.write(payload);
            if (!codec.parse(json).equals(JsonCodec.parse(json))) {
                throw new IllegalStateException(codec.name() + " parses another payload from " + json);
            }
            if (!JsonCodec.parse(codec.write(payload)).equals(JsonCodec.parse(json))) {
                throw new IllegalStateException(codec.name() + " writes another payload: " + codec.write(payload));
            }
        }
    }

    /** A number's text as Courier's payloads hold it: integers narrowed, at most 4,300 digits. */
    static Object number(String text, boolean integral) {
        if (text.length() > JsonCodec.MAX_NUMBER_DIGITS + 2) {
            throw new IllegalArgumentException("a number of more than " + JsonCodec.MAX_NUMBER_DIGITS + " digits");
        }
        if (!integral) {
            return Double.parseDouble(text);
        }
        if (text.length() <= 18) {
            long l = Long.parseLong(text);
            return l == (int) l ? (Object) (int) l : (Object) l;
        }
        BigInteger big = new BigInteger(text);
        return big.bitLength() < 64 ? (Object) big.longValue() : big;
    }

    private static boolean integral(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '.' || c == 'e' || c == 'E') {
                return false;
            }
        }
        return true;
    }

    /** Where a value sits, made into text only for an error (as Courier's codec does). */
    private record Path(Object parent, String key, int index) {
        @Override
        public String toString() {
            return key != null ? parent + "." + key : parent + "[" + index + "]";
        }
    }

    private static IllegalArgumentException nonFinite(Object path, Object value) {
        return new IllegalArgumentException(path + " is " + value + ", which JSON cannot represent");
    }

    /** Gson's JsonReader (strict, nesting limit 512) and JsonWriter. */
    static final class GsonCodec implements Codec {
        public String name() {
            return "Gson streaming";
        }

        public Map<String, Object> parse(String json) {
            try {
                JsonReader reader = new JsonReader(new StringReader(json));
                reader.setStrictness(Strictness.STRICT);
                reader.setNestingLimit(JsonCodec.MAX_DEPTH);
                if (reader.peek() != JsonToken.BEGIN_OBJECT) {
                    throw new IllegalArgumentException("message must be a JSON object");
                }
                @SuppressWarnings("unchecked")
                Map<String, Object> map = (Map<String, Object>) read(reader);
                if (reader.peek() != JsonToken.END_DOCUMENT) {
                    throw new IllegalArgumentException("not valid JSON: unexpected text after the JSON value");
                }
                return map;
            } catch (IOException e) {
                throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
            }
        }

        private static Object read(JsonReader reader) throws IOException {
            switch (reader.peek()) {
                case BEGIN_OBJECT -> {
                    reader.beginObject();
                    Map<String, Object> map = new LinkedHashMap<>();
                    while (reader.hasNext()) {
                        map.put(reader.nextName(), read(reader));
                    }
                    reader.endObject();
                    return Collections.unmodifiableMap(map);
                }
                case BEGIN_ARRAY -> {
                    reader.beginArray();
                    List<Object> list = new ArrayList<>();
                    while (reader.hasNext()) {
                        list.add(read(reader));
                    }
                    reader.endArray();
                    return Collections.unmodifiableList(list);
                }
                case STRING -> {
                    return reader.nextString();
                }
                case NUMBER -> {
                    String text = reader.nextString();
                    return number(text, integral(text));
                }
                case BOOLEAN -> {
                    return reader.nextBoolean();
                }
                case NULL -> {
                    reader.nextNull();
                    return null;
                }
                default -> throw new IllegalArgumentException("not valid JSON at " + reader.getPath());
            }
        }

        public String write(Map<String, Object> payload) {
            StringWriter out = new StringWriter(256);
            try {
                JsonWriter writer = new JsonWriter(out);
                write(writer, payload, "message");
                writer.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return out.toString();
        }

        private static void write(JsonWriter writer, Object value, Object path) throws IOException {
            if (value == null) {
                writer.nullValue();
            } else if (value instanceof String s) {
                writer.value(s);
            } else if (value instanceof Integer || value instanceof Long) {
                writer.value(((Number) value).longValue());
            } else if (value instanceof Double d) {
                if (!Double.isFinite(d)) {
                    throw nonFinite(path, d);
                }
                writer.value(d.doubleValue());
            } else if (value instanceof BigInteger big) {
                writer.value(big);
            } else if (value instanceof Boolean b) {
                writer.value(b.booleanValue());
            } else if (value instanceof Map<?, ?> map) {
                writer.beginObject();
                for (Map.Entry<?, ?> entry : map.entrySet()) {
                    if (!(entry.getKey() instanceof String key)) {
                        throw new IllegalArgumentException(path + " has a key that is not a string");
                    }
                    writer.name(key);
                    write(writer, entry.getValue(), new Path(path, key, -1));
                }
                writer.endObject();
            } else if (value instanceof List<?> list) {
                writer.beginArray();
                for (int i = 0; i < list.size(); i++) {
                    write(writer, list.get(i), new Path(path, null, i));
                }
                writer.endArray();
            } else {
                throw new IllegalArgumentException(path + " is a " + value.getClass().getName());
            }
        }
    }

    /** JSON-P's streaming JsonParser and JsonGenerator (Parsson here; the server's own in a server). */
    static final class JsonpCodec implements Codec {
        private final JsonParserFactory parsers = Json.createParserFactory(Map.of());
        private final JsonGeneratorFactory generators = Json.createGeneratorFactory(Map.of());

        public String name() {
            return "JSON-P (Parsson)";
        }

        public Map<String, Object> parse(String json) {
            try (JsonParser parser = parsers.createParser(new StringReader(json))) {
                if (parser.next() != JsonParser.Event.START_OBJECT) {
                    throw new IllegalArgumentException("message must be a JSON object");
                }
                @SuppressWarnings("unchecked")
                Map<String, Object> map = (Map<String, Object>) read(parser, JsonParser.Event.START_OBJECT, 1);
                if (parser.hasNext()) {
                    throw new IllegalArgumentException("not valid JSON: unexpected text after the JSON value");
                }
                return map;
            } catch (jakarta.json.JsonException e) {
                throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
            }
        }

        private static Object read(JsonParser parser, JsonParser.Event event, int depth) {
            if (depth > JsonCodec.MAX_DEPTH) {
                throw new IllegalArgumentException("not valid JSON: nested deeper than " + JsonCodec.MAX_DEPTH);
            }
            switch (event) {
                case START_OBJECT -> {
                    Map<String, Object> map = new LinkedHashMap<>();
                    JsonParser.Event next;
                    while ((next = parser.next()) == JsonParser.Event.KEY_NAME) {
                        String key = parser.getString();
                        map.put(key, read(parser, parser.next(), depth + 1));
                    }
                    return Collections.unmodifiableMap(map);
                }
                case START_ARRAY -> {
                    List<Object> list = new ArrayList<>();
                    JsonParser.Event next;
                    while ((next = parser.next()) != JsonParser.Event.END_ARRAY) {
                        list.add(read(parser, next, depth + 1));
                    }
                    return Collections.unmodifiableList(list);
                }
                case VALUE_STRING -> {
                    return parser.getString();
                }
                case VALUE_NUMBER -> {
                    return number(parser.getString(), parser.isIntegralNumber());
                }
                case VALUE_TRUE -> {
                    return Boolean.TRUE;
                }
                case VALUE_FALSE -> {
                    return Boolean.FALSE;
                }
                case VALUE_NULL -> {
                    return null;
                }
                default -> throw new IllegalArgumentException("not valid JSON: unexpected " + event);
            }
        }

        public String write(Map<String, Object> payload) {
            StringWriter out = new StringWriter(256);
            try (JsonGenerator generator = generators.createGenerator(out)) {
                generator.writeStartObject();
                payload.forEach((key, value) -> write(generator, key, value, new Path("message", key, -1)));
                generator.writeEnd();
            }
            return out.toString();
        }

        /** One value; {@code key} null inside an array. */
        private static void write(JsonGenerator generator, String key, Object value, Object path) {
            if (key != null) {
                generator.writeKey(key);
            }
            if (value == null) {
                generator.writeNull();
            } else if (value instanceof String s) {
                generator.write(s);
            } else if (value instanceof Integer || value instanceof Long) {
                generator.write(((Number) value).longValue());
            } else if (value instanceof Double d) {
                if (!Double.isFinite(d)) {
                    throw nonFinite(path, d);
                }
                generator.write(d);
            } else if (value instanceof BigInteger big) {
                generator.write(big);
            } else if (value instanceof Boolean b) {
                generator.write(b);
            } else if (value instanceof Map<?, ?> map) {
                generator.writeStartObject();
                map.forEach((k, v) -> write(generator, (String) k, v, new Path(path, (String) k, -1)));
                generator.writeEnd();
            } else if (value instanceof List<?> list) {
                generator.writeStartArray();
                for (int i = 0; i < list.size(); i++) {
                    write(generator, null, list.get(i), new Path(path, null, i));
                }
                generator.writeEnd();
            } else {
                throw new IllegalArgumentException(path + " is a " + value.getClass().getName());
            }
        }
    }
}
