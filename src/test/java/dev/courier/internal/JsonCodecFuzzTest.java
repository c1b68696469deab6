package dev.courier.internal;

import jakarta.json.Json;
import jakarta.json.stream.JsonParser;
import jakarta.json.stream.JsonParserFactory;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.StringReader;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The parser against a reference, JSON-P's (Parsson on the test class path), on random input for a minute: random
 * JSON-like text, valid documents mutated and truncated, nesting around the limit, numbers around 4,300 digits,
 * strings with escapes and surrogates, and UTF-8 bytes with malformed sequences decoded as Jedis decodes them.
 *
 * <p>For input that both accept the values are equal; input that one refuses the other refuses too, except the
 * deliberate differences in {@link #deliberate}. The codec throws nothing but {@code IllegalArgumentException}, and
 * takes a bounded time per input. {@code -Djson.fuzz.seconds} sets the duration; {@code -Djson.fuzz.seed} replays
 * an input from the seed a failure prints.
 */
class JsonCodecFuzzTest {

    private static final long SECONDS = Long.getLong("json.fuzz.seconds", 60);
    /** Far above the linear time any input here takes (milliseconds), for a loaded machine. */
    private static final long MAX_MILLIS_PER_INPUT = 2_000;
    private static final String SIGNIFICANT = "{}[]:,\"\\ \n\t\r0123456789-+.eEtrufalsnNIiy/bu\u00e9\uD83D\uDE00\u0001";
    /** Parsson, with room for numbers of 4,300 digits (its default: 1,100 characters). */
    private static final JsonParserFactory REFERENCE = Json.createParserFactory(Map.of(
            "org.eclipse.parsson.maxBigDecimalLength", 10_000));

    @Test
    void the_parser_agrees_with_json_p_on_a_minute_of_random_input() {
        String replay = System.getProperty("json.fuzz.seed");
        if (replay != null) {
            check(Long.parseLong(replay));
            return;
        }
        Random seeds = new Random();
        long end = System.nanoTime() + SECONDS * 1_000_000_000L;
        int inputs = 0;
        while (System.nanoTime() < end) {
            check(seeds.nextLong());
            inputs++;
        }
        System.out.printf("JSON fuzz: %,d inputs in %d s%n", inputs, SECONDS);
        assertTrue(inputs > 1000, "only " + inputs + " inputs in " + SECONDS + " s");
    }

    /** One input, made from its seed, checked against the reference. */
    private static void check(long seed) {
        Random random = new Random(seed);
        Input input = input(random);
        try {
            compare(input);
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("seed " + seed + " (replay: -Djson.fuzz.seed=" + seed + "), " + input.kind
                    + " input " + shown(input.text) + ": " + e.getMessage(), e);
        }
    }

    private record Input(String kind, String text, byte[] bytes) {
    }

    private static Input input(Random random) {
        int kind = random.nextInt(10);
        return switch (kind) {
            case 0 -> new Input("random", soup(random), null);
            case 1, 2 -> new Input("mutated", mutate(random, document(random)), null);
            case 3 -> {
                String valid = document(random);
                yield new Input("truncated", valid.substring(0, random.nextInt(valid.length() + 1)), null);
            }
            case 4 -> new Input("deep", deep(random), null);
            case 5 -> new Input("long number", longNumber(random), null);
            case 6 -> {
                byte[] bytes = notUtf8(random, document(random).getBytes(StandardCharsets.UTF_8));
                // As Jedis decodes a bulk string (SafeEncoder): malformed sequences become U+FFFD.
                yield new Input("bytes", new String(bytes, StandardCharsets.UTF_8), bytes);
            }
            default -> new Input("valid", document(random), null);
        };
    }

    private static void compare(Input input) {
        String text = input.text;
        Object courier;
        IllegalArgumentException refused = null;
        long start = System.nanoTime();
        try {
            courier = JsonCodec.parseValue(text);
        } catch (IllegalArgumentException e) {
            courier = null;
            refused = e;
        } catch (Throwable e) { // StackOverflowError included
            throw new AssertionError("threw " + e, e);
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(millis < MAX_MILLIS_PER_INPUT, "took " + millis + " ms");
        if (refused != null) {
            assertTrue(refused.getMessage().startsWith("not valid JSON: "), refused.getMessage());
        }

        Parsed reference;
        RuntimeException referenceRefused = null;
        try {
            reference = input.bytes != null ? reference(input.bytes) : reference(text);
        } catch (RuntimeException e) {
            reference = null;
            referenceRefused = e;
        }

        if (refused == null && referenceRefused == null) {
            assertEquals(reference.value, courier, "values differ");
            checkObjectApi(text, courier);
        } else if (refused == null) {
            assertTrue(deliberate(text, null, null), "accepted what JSON-P refuses (" + referenceRefused + ")");
            checkObjectApi(text, courier);
        } else if (referenceRefused == null) {
            assertTrue(deliberate(text, reference, refused), "refused what JSON-P accepts: " + refused.getMessage());
        }
    }

    /**
     * The deliberate differences from JSON-P. Accepted: {@code NaN}, {@code Infinity} and {@code -Infinity}, which
     * Python's json writes. Refused: a number of more than 4,300 digits (Python's limit), one whose value is beyond a
     * double's range ({@code 1e400}), and nesting deeper than 512 (Parsson allows 1,000).
     */
    private static boolean deliberate(String text, Parsed reference, IllegalArgumentException refused) {
        if (refused == null) {
            // The text has such a number, and is JSON with those numbers written as 0.
            String zeros = text.replace("-Infinity", "0").replace("Infinity", "0").replace("NaN", "0");
            return !zeros.equals(text) && accepts(zeros);
        }
        String message = refused.getMessage();
        if (message.contains("a number of more than " + JsonCodec.MAX_NUMBER_DIGITS + " digits")) {
            return longestNumber(text) > JsonCodec.MAX_NUMBER_DIGITS;
        }
        if (message.contains("number out of range")) {
            return reference.outOfRange;
        }
        if (message.contains("nested deeper than " + JsonCodec.MAX_DEPTH + " levels")) {
            return reference.depth > JsonCodec.MAX_DEPTH;
        }
        return false;
    }

    private static boolean accepts(String text) {
        try {
            reference(text);
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** What parse, toPayload and write make of an accepted value, as JsonCodecTest states them for examples. */
    private static void checkObjectApi(String text, Object value) {
        if (!(value instanceof Map<?, ?> map)) {
            IllegalArgumentException e = refuses(() -> JsonCodec.parse(text));
            assertTrue(e.getMessage().startsWith("message must be a JSON object, not "), e.getMessage());
            return;
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> payload = (Map<String, Object>) map;
        assertEquals(payload, JsonCodec.parse(text));
        String written = JsonCodec.write(payload);
        assertEquals(payload, JsonCodec.parse(written), "written and parsed again");
        assertEquals(written.getBytes(StandardCharsets.UTF_8).length, JsonCodec.jsonSize(payload), "size");
        if (containsNonFinite(payload)) {
            IllegalArgumentException e = refuses(() -> JsonCodec.toPayload(text));
            assertTrue(e.getMessage().startsWith("message") && e.getMessage().endsWith(
                    ", which JSON cannot represent"), e.getMessage());
        } else if (payload.isEmpty()) {
            refuses(() -> JsonCodec.toPayload(text));
        } else {
            assertEquals(payload, JsonCodec.toPayload(text));
            assertEquals(written, JsonCodec.toJson(text));
        }
    }

    private static IllegalArgumentException refuses(Runnable action) {
        try {
            action.run();
        } catch (IllegalArgumentException e) {
            return e;
        }
        return fail("not refused");
    }

    // The reference: JSON-P's streaming parser, values in the payload types

    /** The reference's value, whether a number in it was beyond a double's range, and how deep it nested. */
    private record Parsed(Object value, boolean outOfRange, int depth) {
    }

    private static Parsed reference(String text) {
        try (JsonParser parser = REFERENCE.createParser(new StringReader(text))) {
            return reference(parser);
        }
    }

    private static Parsed reference(byte[] bytes) {
        try (JsonParser parser = REFERENCE.createParser(new ByteArrayInputStream(bytes), StandardCharsets.UTF_8)) {
            return reference(parser);
        }
    }

    /** Iterative, so that the reference itself never overflows the stack. */
    private static Parsed reference(JsonParser parser) {
        List<Object> containers = new ArrayList<>(); // open lists and maps
        List<String> keys = new ArrayList<>();
        String key = null;
        boolean outOfRange = false;
        int depth = 0;
        JsonParser.Event event = parser.next();
        while (true) {
            Object value;
            switch (event) {
                case START_OBJECT, START_ARRAY -> {
                    containers.add(event == JsonParser.Event.START_OBJECT ? new LinkedHashMap<String, Object>()
                            : new ArrayList<>());
                    keys.add(key);
                    depth = Math.max(depth, containers.size());
                    event = parser.next();
                    continue;
                }
                case KEY_NAME -> {
                    key = parser.getString();
                    event = parser.next();
                    continue;
                }
                case END_OBJECT, END_ARRAY -> {
                    Object done = containers.remove(containers.size() - 1);
                    key = keys.remove(keys.size() - 1);
                    @SuppressWarnings("unchecked")
                    Object closed = done instanceof Map<?, ?> m ? Collections.unmodifiableMap((Map<String, ?>) m)
                            : Collections.unmodifiableList((List<?>) done);
                    value = closed;
                }
                case VALUE_STRING -> value = parser.getString();
                case VALUE_NUMBER -> {
                    // The text, not isIntegralNumber(): that makes a BigDecimal, whose scale an exponent of
                    // thousands of digits overflows.
                    String number = parser.getString();
                    value = number(number, number.indexOf('.') < 0 && number.indexOf('e') < 0
                            && number.indexOf('E') < 0);
                    outOfRange |= value instanceof Double d && d.isInfinite();
                }
                case VALUE_TRUE -> value = Boolean.TRUE;
                case VALUE_FALSE -> value = Boolean.FALSE;
                case VALUE_NULL -> value = null;
                default -> throw new IllegalStateException("unexpected " + event);
            }
            if (containers.isEmpty()) {
                if (parser.hasNext()) {
                    throw new IllegalStateException("text after the value");
                }
                return new Parsed(value, outOfRange, depth);
            }
            Object into = containers.get(containers.size() - 1);
            if (into instanceof Map<?, ?> map) {
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) map;
                m.put(key, value);
            } else {
                @SuppressWarnings("unchecked")
                List<Object> l = (List<Object>) into;
                l.add(value);
            }
            event = parser.next();
        }
    }

    /** A number in the payload types: integers as the narrowest of Integer, Long, BigInteger; others as Double. */
    private static Object number(String text, boolean integral) {
        if (!integral) {
            return Double.parseDouble(text);
        }
        BigInteger big = new BigInteger(text);
        if (big.bitLength() >= 64) {
            return big;
        }
        long l = big.longValue();
        return l == (int) l ? (Object) (int) l : (Object) l;
    }

    // About values and texts

    private static boolean containsNonFinite(Object value) {
        if (value instanceof Double d) {
            return !Double.isFinite(d);
        }
        if (value instanceof Map<?, ?> map) {
            return map.values().stream().anyMatch(JsonCodecFuzzTest::containsNonFinite);
        }
        if (value instanceof List<?> list) {
            return list.stream().anyMatch(JsonCodecFuzzTest::containsNonFinite);
        }
        return false;
    }

    /** The most digits in one run of number characters (integer, fraction and exponent digits together). */
    private static int longestNumber(String text) {
        int most = 0;
        int digits = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= '0' && c <= '9') {
                digits++;
            } else if (c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
                digits = 0;
            }
            most = Math.max(most, digits);
        }
        return most;
    }

    private static String shown(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (int i = 0; i < Math.min(text.length(), 400); i++) {
            char c = text.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c == '"' || c == '\\' ? "\\" + c : String.valueOf(c));
            }
        }
        return out.append(text.length() > 400 ? "\"... (" + text.length() + " chars)" : "\"").toString();
    }

    // Generators

    private static String soup(Random random) {
        StringBuilder out = new StringBuilder();
        int length = random.nextInt(40);
        for (int i = 0; i < length; i++) {
            out.append(SIGNIFICANT.charAt(random.nextInt(SIGNIFICANT.length())));
        }
        return out.toString();
    }

    /** A valid document, an object most often. */
    private static String document(Random random) {
        StringBuilder out = new StringBuilder();
        if (random.nextInt(5) == 0) {
            value(random, out, 3);
        } else {
            object(random, out, 1 + random.nextInt(4));
        }
        return out.toString();
    }

    private static void value(Random random, StringBuilder out, int depth) {
        space(random, out);
        int kind = random.nextInt(depth > 0 ? 10 : 7);
        switch (kind) {
            case 0, 1 -> string(random, out);
            case 2, 3 -> number(random, out);
            case 4 -> out.append(random.nextBoolean() ? "true" : "false");
            case 5 -> out.append("null");
            case 6 -> out.append(List.of("NaN", "Infinity", "-Infinity").get(random.nextInt(3)));
            case 7 -> {
                out.append('[');
                int n = random.nextInt(4);
                for (int i = 0; i < n; i++) {
                    out.append(i > 0 ? "," : "");
                    value(random, out, depth - 1);
                }
                space(random, out);
                out.append(']');
            }
            default -> object(random, out, depth - 1);
        }
        space(random, out);
    }

    private static void object(Random random, StringBuilder out, int depth) {
        out.append('{');
        int n = random.nextInt(5);
        for (int i = 0; i < n; i++) {
            out.append(i > 0 ? "," : "");
            space(random, out);
            string(random, out);
            space(random, out);
            out.append(':');
            value(random, out, depth);
        }
        space(random, out);
        out.append('}');
    }

    private static void space(Random random, StringBuilder out) {
        while (random.nextInt(4) == 0) {
            out.append(" \n\r\t".charAt(random.nextInt(4)));
        }
    }

    private static void string(Random random, StringBuilder out) {
        out.append('"');
        int n = random.nextInt(8);
        for (int i = 0; i < n; i++) {
            switch (random.nextInt(12)) {
                case 0 -> out.append("\\\"\\\\\\/\\b\\f\\n\\r\\t".substring(random.nextInt(8) * 2).substring(0, 2));
                case 1 -> out.append(String.format("\\u%04x", random.nextInt(0x10000)));
                case 2 -> out.append(String.format("\\u%04X\\u%04X", 0xD800 + random.nextInt(0x400),
                        0xDC00 + random.nextInt(0x400))); // an escaped pair
                case 3 -> out.append(random.nextBoolean() ? "\\uD800" : "\\udfff"); // a lone surrogate, escaped
                case 4 -> out.appendCodePoint(0x10000 + random.nextInt(0x100000)); // a pair, as it is
                case 5 -> out.append((char) (0x80 + random.nextInt(0xD800 - 0x80)));
                case 6 -> out.append(random.nextBoolean() ? '\u2028' : '\uFFFD');
                default -> {
                    char c = (char) (0x20 + random.nextInt(0x5F)); // printable ASCII
                    out.append(c == '"' || c == '\\' ? 'x' : c);
                }
            }
        }
        out.append('"');
    }

    private static void number(Random random, StringBuilder out) {
        if (random.nextBoolean()) {
            out.append('-');
        }
        int digits = switch (random.nextInt(6)) {
            case 0 -> 1;
            case 1 -> 1 + random.nextInt(9);
            case 2 -> 10 + random.nextInt(12); // around long's range
            case 3 -> 1 + random.nextInt(300);
            default -> 1 + random.nextInt(3);
        };
        digits(random, out, digits, true);
        if (random.nextInt(3) == 0) {
            out.append('.');
            digits(random, out, 1 + random.nextInt(20), false);
        }
        if (random.nextInt(4) == 0) {
            out.append(random.nextBoolean() ? 'e' : 'E').append(List.of("", "+", "-").get(random.nextInt(3)));
            digits(random, out, 1 + random.nextInt(3), false);
        }
    }

    private static void digits(Random random, StringBuilder out, int n, boolean integerPart) {
        if (integerPart) {
            if (n == 1) {
                out.append((char) ('0' + random.nextInt(10)));
                return;
            }
            out.append((char) ('1' + random.nextInt(9)));
            n--;
        }
        for (int i = 0; i < n; i++) {
            out.append((char) ('0' + random.nextInt(10)));
        }
    }

    private static String mutate(Random random, String text) {
        StringBuilder out = new StringBuilder(text);
        int edits = 1 + random.nextInt(3);
        for (int i = 0; i < edits; i++) {
            int at = random.nextInt(out.length() + 1);
            char c = SIGNIFICANT.charAt(random.nextInt(SIGNIFICANT.length()));
            switch (random.nextInt(4)) {
                case 0 -> out.insert(at, c);
                case 1 -> {
                    if (at < out.length()) {
                        out.deleteCharAt(at);
                    }
                }
                case 2 -> {
                    if (at < out.length()) {
                        out.setCharAt(at, c);
                    }
                }
                default -> {
                    int to = Math.min(out.length(), at + random.nextInt(10));
                    out.insert(at, out.substring(at, to)); // a slice doubled
                }
            }
        }
        return out.toString();
    }

    /** Arrays and objects nested about as deep as the limit, valid or not, maybe cut short. */
    private static String deep(Random random) {
        int depth = JsonCodec.MAX_DEPTH - 8 + random.nextInt(20);
        if (random.nextInt(8) == 0) {
            depth = 1000 + random.nextInt(2000); // past the reference's own limit too
        }
        StringBuilder open = new StringBuilder();
        StringBuilder close = new StringBuilder();
        for (int i = 0; i < depth; i++) {
            if (random.nextBoolean()) {
                open.append('[');
                close.append(']');
            } else {
                open.append("{\"k\":");
                close.append('}');
            }
        }
        if (close.charAt(close.length() - 1) == '}') {
            open.append("1");
        } else if (random.nextBoolean()) {
            open.append("\"x\"");
        }
        String text = open + close.reverse().toString();
        return random.nextInt(4) == 0 ? text.substring(0, random.nextInt(text.length())) : text;
    }

    /** A number of about 4,300 digits, in an object. */
    private static String longNumber(Random random) {
        StringBuilder out = new StringBuilder("{\"n\":");
        if (random.nextBoolean()) {
            out.append('-');
        }
        int total = JsonCodec.MAX_NUMBER_DIGITS - 5 + random.nextInt(11);
        switch (random.nextInt(3)) {
            case 0 -> digits(random, out, total, true);
            case 1 -> {
                int whole = 1 + random.nextInt(total - 1);
                digits(random, out, whole, true);
                out.append('.');
                digits(random, out, total - whole, false);
            }
            default -> {
                digits(random, out, 1, true);
                out.append("e-");
                digits(random, out, total - 1, false);
            }
        }
        return random.nextInt(5) == 0 ? mutate(random, out.append('}').toString()) : out.append('}').toString();
    }

    /** UTF-8 bytes with a malformed sequence or two: a stray continuation byte, a cut sequence, an encoded surrogate. */
    private static byte[] notUtf8(Random random, byte[] bytes) {
        List<byte[]> bad = List.of(new byte[] {(byte) 0x80}, new byte[] {(byte) 0xC3}, new byte[] {(byte) 0xFF},
                new byte[] {(byte) 0xE2, (byte) 0x82}, new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
                new byte[] {(byte) 0xC0, (byte) 0xAF}, new byte[] {(byte) 0xF4, (byte) 0x90, (byte) 0x80,
                        (byte) 0x80});
        byte[] out = bytes;
        for (int i = 1 + random.nextInt(2); i > 0; i--) {
            byte[] insert = bad.get(random.nextInt(bad.size()));
            int at = random.nextInt(out.length + 1);
            byte[] next = new byte[out.length + insert.length];
            System.arraycopy(out, 0, next, 0, at);
            System.arraycopy(insert, 0, next, at, insert.length);
            System.arraycopy(out, at, next, at + insert.length, out.length - at);
            out = next;
        }
        return out;
    }
}
