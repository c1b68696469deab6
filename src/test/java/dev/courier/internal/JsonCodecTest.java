package dev.courier.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonCodecTest {

    @Test
    void writing_and_parsing_a_payload_gives_an_equal_payload() {
        Map<String, Object> message = new LinkedHashMap<>();
        message.put("text", "quote \" backslash \\ newline \n tab \t unicode é \u2028 control \u0001");
        message.put("int", 42);
        message.put("long", 5_000_000_000L);
        message.put("big", new BigInteger("123456789012345678901234567890"));
        message.put("double", -1.5e-7);
        message.put("whole double", 3.0);
        message.put("bool", false);
        message.put("nothing", null);
        message.put("list", List.of(1, "two", List.of(), Map.of()));
        message.put("nested", Map.of("a", Map.of("b", 1)));
        Map<String, Object> payload = JsonCodec.toPayload(message);
        assertEquals(payload, JsonCodec.parse(JsonCodec.write(payload)));
        assertEquals(message.keySet().stream().toList(), payload.keySet().stream().toList(), "key order kept");
    }

    @Test
    void numbers_take_the_types_parsing_gives() {
        Map<String, Object> payload = JsonCodec.toPayload(Map.of(
                "short", (short) 7, "long", 7L, "float", 0.5f, "decimal", new BigDecimal("2.25"),
                "small big", BigInteger.TEN));
        assertEquals(Map.of("short", 7, "long", 7, "float", 0.5, "decimal", 2.25, "small big", 10), payload);
        assertEquals(payload, JsonCodec.parse(JsonCodec.write(payload)));
    }

    @Test
    void arrays_and_collections_become_lists() {
        Map<String, Object> payload = JsonCodec.toPayload(Map.of("ints", new int[] {1, 2}, "set",
                new ArrayList<>(List.of("x"))));
        assertEquals(Map.of("ints", List.of(1, 2), "set", List.of("x")), payload);
    }

    @Test
    void parses_proteans_example() {
        Map<String, Object> payload = JsonCodec.parse(
                "{\"event_type\": \"user.registered\", \"user_id\": \"123\", \"email\": \"user@example.com\"}");
        assertEquals(Map.of("event_type", "user.registered", "user_id", "123", "email", "user@example.com"),
                payload);
    }

    @Test
    void parses_escapes() {
        assertEquals(Map.of("s", "a\"b\\c/d\b\f\n\r\té"),
                JsonCodec.parse("{\"s\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\"}"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "not-json", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x", "{'a':1}",
            "{\"a\":01}", "{\"a\":1.}", "{\"a\":\"\u0001\"}", "{\"a\":tru}", "{\"a\":\"\\x\"}", "{a:1}",
            "{\"a\":\"\\u-123\"}", "{\"a\":\"\\u+123\"}", "{\"a\":\"\\u12\"}",
            "{\"a\":\"\\u\uFF10\uFF10\uFF14\uFF11\"}"})
    void invalid_json_is_refused_with_the_position(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonCodec.parse(text));
        assertTrue(e.getMessage().startsWith("not valid JSON") && e.getMessage().contains("position"),
                e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"[1]", "\"text\"", "42", "null", "true"})
    void json_that_is_not_an_object_is_refused(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonCodec.parse(text));
        assertTrue(e.getMessage().startsWith("message must be a JSON object"), e.getMessage());
    }

    @Test
    void deep_nesting_is_refused_rather_than_overflowing_the_stack() {
        String deep = "{\"a\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonCodec.parse(deep));
        assertTrue(e.getMessage().contains("nested deeper"), e.getMessage());
    }

    @Test
    void an_object_that_json_b_cannot_serialise_is_refused_with_its_type() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> JsonCodec.toPayload(new Unserialisable()));
        assertTrue(e.getMessage().startsWith("cannot serialise a " + Unserialisable.class.getName() + " to JSON"),
                e.getMessage());
    }

    @Test
    void an_object_with_no_properties_is_an_empty_message() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> JsonCodec.toPayload(new Object()));
        assertTrue(e.getMessage().startsWith("message must not be empty"), e.getMessage());
    }

    public static class Unserialisable {
        public String getValue() {
            throw new IllegalStateException("no value");
        }
    }

    enum Colour { RED }

    @Test
    void toJson_gives_the_text_of_the_copied_payload_in_one_pass() {
        Map<String, Object> message = new LinkedHashMap<>();
        message.put("text", "quote \" backslash \\ newline \n unicode é \u2028 control \u0001");
        message.put("int", 42);
        message.put("short", (short) 7);
        message.put("long", 5_000_000_000L);
        message.put("small long", 5L);
        message.put("big", new BigInteger("123456789012345678901234567890"));
        message.put("decimal", new BigDecimal("1.25"));
        message.put("float", 1.1f);
        message.put("double", -1.5e-7);
        message.put("bool", true);
        message.put("nothing", null);
        message.put("char", 'c');
        message.put("builder", new StringBuilder("sb"));
        message.put("enum", Colour.RED);
        message.put("array", new int[] {1, 2});
        message.put("list", List.of(1, "two", List.of(), Map.of("k", 2.0)));
        message.put("nested", Map.of("a", Map.of("b", 1)));
        assertEquals(JsonCodec.write(JsonCodec.toPayload(message)), JsonCodec.toJson(message));
        assertEquals("{\"a\":1}", JsonCodec.toJson(" { \"a\" : 1 } "));
    }

    @Test
    void toJson_refuses_what_toPayload_refuses_with_the_same_words() {
        Map<Object, Object> badKey = new LinkedHashMap<>();
        badKey.put("ok", 1);
        badKey.put(2, "x");
        Map<String, Object> nan = new LinkedHashMap<>();
        nan.put("list", List.of(1, Map.of("x", Double.NaN)));
        for (Object bad : new Object[] {null, Map.of(), badKey, nan, List.of(1), 5, "[1]",
                Map.of("n", new java.util.concurrent.atomic.AtomicLong(1))}) {
            IllegalArgumentException expected = assertThrows(IllegalArgumentException.class,
                    () -> JsonCodec.toPayload(bad));
            IllegalArgumentException actual = assertThrows(IllegalArgumentException.class,
                    () -> JsonCodec.toJson(bad));
            assertEquals(expected.getMessage(), actual.getMessage());
        }
        assertEquals("message.list[1].x is NaN, which JSON cannot represent",
                assertThrows(IllegalArgumentException.class, () -> JsonCodec.toJson(nan)).getMessage());
    }

    // Python's non-finite numbers

    @Test
    void nan_and_the_infinities_that_python_writes_are_read_as_doubles() {
        Map<String, Object> payload = JsonCodec.parse("{\"x\": NaN, \"y\": [Infinity, -Infinity], \"z\": -1}");
        assertEquals(Double.NaN, payload.get("x"));
        assertEquals(List.of(Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY), payload.get("y"));
        assertEquals(-1, payload.get("z"));
        assertEquals("{\"x\":NaN,\"y\":[Infinity,-Infinity],\"z\":-1}", JsonCodec.write(payload),
                "written back as Python writes them");
        assertEquals(payload, JsonCodec.parse(JsonCodec.write(payload)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"x\":nan}", "{\"x\":-NaN}", "{\"x\":+Infinity}", "{\"x\":Infinit}",
            "{\"x\":NaNa}", "{\"x\":-Inf}", "{\"x\":infinity}"})
    void other_spellings_are_not_json(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonCodec.parse(text));
        assertTrue(e.getMessage().startsWith("not valid JSON"), e.getMessage());
    }

    @Test
    void publishing_refuses_a_non_finite_number_naming_where_it_is() {
        assertEquals("message.y[1] is -Infinity, which JSON cannot represent",
                assertThrows(IllegalArgumentException.class,
                        () -> JsonCodec.toJson("{\"x\": 1, \"y\": [2, -Infinity]}")).getMessage());
        assertEquals("message.a.b is NaN, which JSON cannot represent",
                assertThrows(IllegalArgumentException.class,
                        () -> JsonCodec.toPayload("{\"a\": {\"b\": NaN}}")).getMessage());
        assertEquals("message.x is Infinity, which JSON cannot represent",
                assertThrows(IllegalArgumentException.class,
                        () -> JsonCodec.toJson(Map.of("x", Double.POSITIVE_INFINITY))).getMessage());
        Map<String, Object> read = JsonCodec.parse("{\"x\": NaN}");
        assertEquals("message.x is NaN, which JSON cannot represent",
                assertThrows(IllegalArgumentException.class, () -> JsonCodec.toJson(read)).getMessage(),
                "a message read with NaN is not published again as it is");
    }

    // Bounds

    @Test
    void a_number_may_have_4300_digits_and_no_more() {
        String most = "9".repeat(JsonCodec.MAX_NUMBER_DIGITS);
        assertEquals(new java.math.BigInteger("-" + most), JsonCodec.parse("{\"n\":-" + most + "}").get("n"));
        for (String tooLong : List.of("9".repeat(4301), "1." + "0".repeat(4300), "1e" + "0".repeat(4300))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> JsonCodec.parse("{\"n\":" + tooLong + "}"));
            assertEquals("not valid JSON: a number of more than 4300 digits at position 5", e.getMessage());
        }
    }

    @Test
    void long_numbers_are_read_exactly() {
        java.util.Random random = new java.util.Random(7);
        for (int length : new int[] {19, 20, 199, 200, 201, 401, 1000, 4300}) {
            StringBuilder digits = new StringBuilder().append(1 + random.nextInt(9));
            while (digits.length() < length) {
                digits.append(random.nextInt(10));
            }
            assertEquals(new java.math.BigInteger(digits.toString()),
                    new java.math.BigInteger(String.valueOf(JsonCodec.parse("{\"n\":" + digits + "}").get("n"))),
                    length + " digits");
        }
        assertEquals(new java.math.BigInteger("1" + "0".repeat(300) + "5"),
                JsonCodec.parse("{\"n\":1" + "0".repeat(300) + "5}").get("n"), "zeros inside kept");
    }

    @Test
    void decimals_are_read_as_the_double_that_double_parse_double_gives() {
        // Short decimals take a fast path (digits and a power of ten); the rest go through Double.parseDouble.
        java.util.Random random = new java.util.Random(11);
        for (int i = 0; i < 200_000; i++) {
            StringBuilder number = new StringBuilder(random.nextBoolean() ? "-" : "");
            int whole = random.nextInt(4) == 0 ? 0 : 1 + random.nextInt(17);
            number.append(whole == 0 ? "0" : String.valueOf(1 + random.nextInt(9)));
            for (int d = 1; d < whole; d++) {
                number.append(random.nextInt(10));
            }
            boolean fraction = random.nextInt(3) > 0;
            if (fraction) {
                number.append('.');
                for (int d = 1 + random.nextInt(18); d > 0; d--) {
                    number.append(random.nextInt(10));
                }
            }
            if (!fraction || random.nextBoolean()) {
                number.append(random.nextBoolean() ? 'e' : 'E').append(List.of("", "+", "-").get(random.nextInt(3)))
                        .append(random.nextInt(random.nextBoolean() ? 40 : 280));
            }
            String text = number.toString();
            assertEquals(Double.parseDouble(text), JsonCodec.parse("{\"n\":" + text + "}").get("n"), text);
        }
        for (String text : List.of("-0.0", "0e0", "-0e5", "1.5e-3", "9007199254740993.0", "123456789012345e22",
                "1e22", "1e23", "1e-22", "1e-23", "0.1", "2.2250738585072014E-308", "1e007", "1e0007")) {
            assertEquals(Double.parseDouble(text), JsonCodec.parse("{\"n\":" + text + "}").get("n"), text);
        }
    }

    @Test
    void integers_up_to_18_digits_are_read_in_place_as_int_or_long() {
        assertEquals(Map.of("a", 0, "b", 0, "c", -7, "d", Integer.MAX_VALUE, "e", Integer.MIN_VALUE, "f",
                        2147483648L, "g", -999_999_999_999_999_999L, "h", 999_999_999_999_999_999L),
                JsonCodec.parse("{\"a\":0,\"b\":-0,\"c\":-7,\"d\":2147483647,\"e\":-2147483648,"
                        + "\"f\":2147483648,\"g\":-999999999999999999,\"h\":999999999999999999}"));
        assertEquals(new BigInteger("-9223372036854775809"), JsonCodec.parse("{\"n\":-9223372036854775809}")
                .get("n"));
        assertEquals(Long.MIN_VALUE, JsonCodec.parse("{\"n\":-9223372036854775808}").get("n"));
    }

    @Test
    void a_million_digit_number_is_refused_without_reading_it_all() {
        String hostile = "{\"n\":" + "7".repeat(1_000_000) + "}";
        String tenTimes = "{\"n\":" + "7".repeat(10_000_000) + "}";
        long one = time(() -> assertThrows(IllegalArgumentException.class, () -> JsonCodec.parse(hostile)));
        long ten = time(() -> assertThrows(IllegalArgumentException.class, () -> JsonCodec.parse(tenTimes)));
        // Quadratic parsing took 17 s for the first. The parser stops at digit 4,301, whatever follows: milliseconds,
        // even cold (a generous bound, for a busy machine).
        assertTrue(one < 100 && ten < 100, "1M digits " + one + " ms, 10M digits " + ten + " ms");
    }

    private static long time(Runnable action) {
        long start = System.nanoTime();
        action.run();
        return (System.nanoTime() - start) / 1_000_000;
    }

    @Test
    void sizes_are_counted_as_utf8_bytes_of_the_written_text() {
        Map<String, Object> message = new LinkedHashMap<>();
        message.put("text", "quote \" backslash \\ newline \n tab \t é € \uD83D\uDE00 \u2028 \u0001 lone \uD800 x");
        message.put("int", -42);
        message.put("long", 5_000_000_000L);
        message.put("big", new BigInteger("123456789012345678901234567890"));
        message.put("double", -1.5e-7);
        message.put("bool", false);
        message.put("nothing", null);
        message.put("list", List.of(1, "two", List.of(), Map.of()));
        message.put("nested", Map.of("ké", Map.of("b", true)));
        Map<String, Object> payload = JsonCodec.toPayload(message);
        String json = JsonCodec.write(payload);
        int bytes = json.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        assertEquals(bytes, JsonCodec.jsonSize(payload));
        assertEquals(bytes, JsonCodec.utf8Length(json));
        assertEquals(2, JsonCodec.jsonSize(Map.of()));
    }
}
