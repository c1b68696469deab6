package dev.courier.spi;

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
    void parses_the_seed_example() {
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
            "{\"a\":01}", "{\"a\":1.}", "{\"a\":\"\u0001\"}", "{\"a\":tru}", "{\"a\":\"\\x\"}", "{a:1}"})
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
}
