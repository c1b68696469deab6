package dev.courier.internal;

import dev.courier.DomainEvent;

import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns what a user publishes into a message payload and payloads into JSON text and back.
 *
 * <p>A payload is an unmodifiable, non-empty {@code Map<String, Object>} whose values are of the types that parsing
 * JSON gives: {@code String}, {@code Boolean}, {@code Integer}, {@code Long}, {@code BigInteger}, {@code Double},
 * {@code List} and {@code Map} (unmodifiable), or {@code null}. {@link #toPayload} and {@link #parse} agree:
 * {@code parse(write(toPayload(x))).equals(toPayload(x))}.
 *
 * <p>Parsing reads strict JSON plus {@code NaN}, {@code Infinity} and {@code -Infinity}, which Python's {@code json}
 * writes (a Protean service may publish them), as the {@code Double} values they name; {@link #write} writes those
 * values back the same way. What is published is strict JSON: {@link #toPayload} and {@link #toJson} refuse a
 * non-finite number, naming where it is. Parsing is bounded: a number has at most {@value #MAX_NUMBER_DIGITS} digits
 * (Python's limit for integer text), so that no number costs more than linear time, and values nest at most
 * {@value #MAX_DEPTH} levels deep.
 *
 * <p>Objects that are not maps, strings, numbers, booleans, collections or arrays are serialised with JSON-B, which
 * the application server provides.
 *
 * <p>Not API: Courier's packages share it; it may change in any release.
 */
public final class JsonCodec {

    /** The most digits a number may have, as Python's {@code int} limit (its default {@code max_str_digits}). */
    public static final int MAX_NUMBER_DIGITS = 4300;
    /** The deepest that arrays and objects may nest. */
    public static final int MAX_DEPTH = 512;

    private JsonCodec() {
    }

    /**
     * The payload of a message to publish: a copy of a map, the object a JSON string holds, a {@link DomainEvent} in
     * Protean's envelope, or a JSON-B serialised object. The caller's object is never changed or kept.
     *
     * @throws IllegalArgumentException the message is null, empty, or not a JSON object; the text says why
     */
    public static Map<String, Object> toPayload(Object message) {
        if (message == null) {
            throw new IllegalArgumentException("message must not be null; publish a non-empty JSON object");
        }
        Map<String, Object> payload;
        if (message instanceof Map<?, ?> map) {
            payload = copyMap(map, "message");
        } else if (message instanceof CharSequence text) {
            payload = parseStrict(text.toString());
        } else if (message instanceof DomainEvent event) {
            Map<String, Object> data;
            try {
                data = toPayload(event.data());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("the data of event '" + event.type() + "': " + e.getMessage(), e);
            }
            payload = copyMap(ProteanEnvelope.write(event, data), "message");
        } else if (isJsonValue(message)) {
            throw new IllegalArgumentException("message must be a JSON object, not " + describe(message)
                    + "; wrap it in a map or an object");
        } else {
            payload = parseStrict(JsonbHolder.toJson(message));
        }
        if (payload.isEmpty()) {
            throw new IllegalArgumentException("message must not be empty; publish a non-empty JSON object");
        }
        return payload;
    }

    /**
     * The JSON text of a message to publish: the same text as {@code write(toPayload(message))}, with the same
     * checks and errors, but a map is checked and written in one pass, without the copy.
     *
     * @throws IllegalArgumentException the message is null, empty, or not a JSON object; the text says why
     */
    public static String toJson(Object message) {
        if (message instanceof Map<?, ?> map) {
            if (map.isEmpty()) {
                throw new IllegalArgumentException("message must not be empty; publish a non-empty JSON object");
            }
            StringBuilder out = new StringBuilder(256);
            writeChecked(out, map, "message");
            return out.toString();
        }
        return write(toPayload(message));
    }

    /** The JSON text of a payload. */
    public static String write(Map<String, ?> payload) {
        return writeValue(payload);
    }

    /** The JSON text of any value of the payload types (a list holding an id and a payload, say). */
    public static String writeValue(Object value) {
        StringBuilder out = new StringBuilder(128);
        writeValue(out, value);
        return out.toString();
    }

    /**
     * The payload a JSON object text holds.
     *
     * @throws IllegalArgumentException the text is not one JSON object
     */
    public static Map<String, Object> parse(String json) {
        return parseObject(json, false);
    }

    /** As {@link #parse}, refusing {@code NaN} and the infinities, naming where one is: for what is published. */
    private static Map<String, Object> parseStrict(String json) {
        return parseObject(json, true);
    }

    private static Map<String, Object> parseObject(String json, boolean strict) {
        if (json == null) {
            throw new IllegalArgumentException("message must not be null; publish a non-empty JSON object");
        }
        Parser parser = new Parser(json);
        Object value = parser.parseDocument();
        if (!(value instanceof Map)) {
            throw new IllegalArgumentException("message must be a JSON object, not " + describe(value));
        }
        if (strict && parser.nonFinite) {
            requireFinite(value, "message");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> map = (Map<String, Object>) value;
        return map;
    }

    /** Throws, naming its place, at the first number of a parsed value that is NaN or infinite. */
    private static void requireFinite(Object value, Object path) {
        if (value instanceof Double d && !Double.isFinite(d)) {
            throw new IllegalArgumentException(path + " is " + d + ", which JSON cannot represent");
        } else if (value instanceof Map<?, ?> map) {
            map.forEach((key, item) -> requireFinite(item, new Path(path, (String) key, -1)));
        } else if (value instanceof List<?> list) {
            for (int i = 0; i < list.size(); i++) {
                requireFinite(list.get(i), new Path(path, null, i));
            }
        }
    }

    /**
     * A value of a caller's map as its JSON holds it (an enum as its name, a float or BigDecimal as a double, a
     * collection as a list, an object as JSON-B maps it), checked as {@link #toJson} checks it.
     */
    public static Object jsonValue(Object value) {
        return copyValue(value, "value");
    }

    /** Any JSON value as text (used for values inside a payload, such as a list). */
    public static Object parseValue(String json) {
        return new Parser(json).parseDocument();
    }

    /** How many bytes a text takes in UTF-8, as {@code text.getBytes(UTF_8).length} counts them, without the copy. */
    public static long utf8Length(CharSequence text) {
        long bytes = 0;
        int length = text.length();
        for (int i = 0; i < length; i++) {
            bytes += utf8Length(text, i);
            if (Character.isHighSurrogate(text.charAt(i)) && i + 1 < length
                    && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            }
        }
        return bytes;
    }

    /** The UTF-8 bytes of the character at {@code i}: a surrogate pair's 4, a lone surrogate's 1 (written as '?'). */
    private static int utf8Length(CharSequence text, int i) {
        char c = text.charAt(i);
        if (c < 0x80) {
            return 1;
        }
        if (c < 0x800) {
            return 2;
        }
        if (Character.isSurrogate(c)) {
            return Character.isHighSurrogate(c) && i + 1 < text.length()
                    && Character.isLowSurrogate(text.charAt(i + 1)) ? 4 : 1;
        }
        return 3;
    }

    /**
     * How many bytes {@code write(value)} takes in UTF-8, without writing it: for a broker that checks the size of
     * a payload it does not turn into text itself.
     */
    public static long jsonSize(Object value) {
        if (value == null) {
            return 4;
        }
        if (value instanceof String s) {
            return stringSize(s);
        }
        if (value instanceof Map<?, ?> map) {
            long size = 2 + Math.max(0, map.size() - 1); // braces and commas
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                size += stringSize(String.valueOf(entry.getKey())) + 1 + jsonSize(entry.getValue());
            }
            return size;
        }
        if (value instanceof List<?> list) {
            long size = 2 + Math.max(0, list.size() - 1);
            for (Object item : list) {
                size += jsonSize(item);
            }
            return size;
        }
        if (value instanceof Integer || value instanceof Long || value instanceof BigInteger
                || value instanceof Double || value instanceof Boolean) {
            return value.toString().length(); // ASCII, as writeValue appends it
        }
        return utf8Length(writeValue(value));
    }

    /** The UTF-8 bytes of a string as {@link #writeString} writes it: quotes and escapes included. */
    private static long stringSize(String s) {
        long size = 2;
        int length = s.length();
        for (int i = 0; i < length; i++) {
            char c = s.charAt(i);
            if (needsEscape(c)) {
                // \" \\ \n \r \t \b \f, else \\uXXXX
                size += c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f'
                        ? 2 : 6;
            } else {
                int bytes = utf8Length(s, i);
                size += bytes;
                if (bytes == 4) {
                    i++;
                }
            }
        }
        return size;
    }

    private static boolean isJsonValue(Object value) {
        return value instanceof Number || value instanceof Boolean || value instanceof Character
                || value instanceof Collection || value.getClass().isArray() || value instanceof Enum;
    }

    private static String describe(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof List) {
            return "an array";
        }
        String name = value.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT);
        return ("aeiou".indexOf(name.charAt(0)) >= 0 ? "an " : "a ") + name;
    }

    // Copying: a deep, unmodifiable copy in the canonical types.

    /** Where a value sits in a message, for errors; made into text only when one is thrown. */
    private record Path(Object parent, String key, int index) {
        @Override
        public String toString() {
            return key != null ? parent + "." + key : parent + "[" + index + "]";
        }
    }

    private static Map<String, Object> copyMap(Map<?, ?> map, Object path) {
        Map<String, Object> copy = new LinkedHashMap<>(Math.max(4, map.size() * 4 / 3 + 1));
        for (Map.Entry<?, ?> entry : map.entrySet()) {
            if (!(entry.getKey() instanceof String key)) {
                throw new IllegalArgumentException(path + " has a key that is not a string: " + entry.getKey()
                        + "; JSON object keys are strings");
            }
            copy.put(key, copyValue(entry.getValue(), new Path(path, key, -1)));
        }
        return Collections.unmodifiableMap(copy);
    }

    private static Object copyValue(Object value, Object path) {
        if (value == null || value instanceof String || value instanceof Boolean) {
            return value;
        }
        if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
            return ((Number) value).intValue();
        }
        if (value instanceof Long l) {
            return narrow(l);
        }
        if (value instanceof BigInteger big) {
            return big.bitLength() < 64 ? narrow(big.longValue()) : big;
        }
        if (value instanceof Double || value instanceof Float || value instanceof BigDecimal) {
            double d = ((Number) value).doubleValue();
            if (!Double.isFinite(d)) {
                throw new IllegalArgumentException(path + " is " + value + ", which JSON cannot represent");
            }
            return d;
        }
        if (value instanceof CharSequence || value instanceof Character || value instanceof Enum) {
            return value instanceof Enum<?> e ? e.name() : value.toString();
        }
        if (value instanceof Map<?, ?> map) {
            return copyMap(map, path);
        }
        if (value instanceof Collection<?> collection) {
            List<Object> list = new ArrayList<>(collection.size());
            int i = 0;
            for (Object item : collection) {
                list.add(copyValue(item, new Path(path, null, i++)));
            }
            return Collections.unmodifiableList(list);
        }
        if (value.getClass().isArray()) {
            int length = Array.getLength(value);
            List<Object> list = new ArrayList<>(length);
            for (int i = 0; i < length; i++) {
                list.add(copyValue(Array.get(value, i), new Path(path, null, i)));
            }
            return Collections.unmodifiableList(list);
        }
        if (value instanceof Number) {
            throw new IllegalArgumentException(path + " is a " + value.getClass().getName()
                    + ", which has no JSON form; use a standard number type");
        }
        Parser parser = new Parser(JsonbHolder.toJson(value));
        Object parsed = parser.parseDocument();
        if (parser.nonFinite) {
            requireFinite(parsed, path);
        }
        return parsed;
    }

    private static Object narrow(long value) {
        return value == (int) value ? (Object) (int) value : (Object) value;
    }

    /**
     * Writes a value as {@code writeValue(copyValue(value, path))} would, checking it the same way, without making
     * the copy.
     */
    private static void writeChecked(StringBuilder out, Object value, Object path) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String s) {
            writeString(out, s);
        } else if (value instanceof Integer i) {
            out.append(i.intValue()); // appended as digits, without a String each
        } else if (value instanceof Long l) {
            out.append(l.longValue());
        } else if (value instanceof Boolean || value instanceof BigInteger) {
            out.append(value);
        } else if (value instanceof Short || value instanceof Byte) {
            out.append(((Number) value).intValue());
        } else if (value instanceof Double || value instanceof Float || value instanceof BigDecimal) {
            double d = ((Number) value).doubleValue();
            if (!Double.isFinite(d)) {
                throw new IllegalArgumentException(path + " is " + value + ", which JSON cannot represent");
            }
            out.append(d);
        } else if (value instanceof CharSequence || value instanceof Character) {
            writeString(out, value.toString());
        } else if (value instanceof Enum<?> e) {
            writeString(out, e.name());
        } else if (value instanceof Map<?, ?> map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                if (!(entry.getKey() instanceof String key)) {
                    throw new IllegalArgumentException(path + " has a key that is not a string: " + entry.getKey()
                            + "; JSON object keys are strings");
                }
                if (!first) {
                    out.append(',');
                }
                first = false;
                writeString(out, key);
                out.append(':');
                writeChecked(out, entry.getValue(), new Path(path, key, -1));
            }
            out.append('}');
        } else if (value instanceof Collection<?> collection) {
            out.append('[');
            int i = 0;
            for (Object item : collection) {
                if (i > 0) {
                    out.append(',');
                }
                writeChecked(out, item, new Path(path, null, i++));
            }
            out.append(']');
        } else {
            // Arrays, other numbers (refused) and objects for JSON-B: rare, by the copying route.
            writeValue(out, copyValue(value, path));
        }
    }

    // Writing

    private static void writeValue(StringBuilder out, Object value) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String s) {
            writeString(out, s);
        } else if (value instanceof Map<?, ?> map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                writeString(out, String.valueOf(entry.getKey()));
                out.append(':');
                writeValue(out, entry.getValue());
            }
            out.append('}');
        } else if (value instanceof List<?> list) {
            out.append('[');
            for (int i = 0; i < list.size(); i++) {
                if (i > 0) {
                    out.append(',');
                }
                writeValue(out, list.get(i));
            }
            out.append(']');
        } else if (value instanceof Integer i) {
            out.append(i.intValue());
        } else if (value instanceof Long l) {
            out.append(l.longValue());
        } else if (value instanceof BigInteger || value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Double d) {
            // Double.toString of a finite double ("1.0", "1.0E10") is valid JSON. A payload read from Python's
            // json may hold NaN or an infinity: written back as Python writes it ("NaN", "Infinity", "-Infinity").
            out.append(d.doubleValue());
        } else {
            writeValue(out, copyValue(value, "value"));
        }
    }

    private static void writeString(StringBuilder out, String s) {
        out.append('"');
        int length = s.length();
        int first = 0;
        while (first < length && !needsEscape(s.charAt(first))) {
            first++;
        }
        if (first == length) {
            // Most strings need no escape: one bulk copy rather than a copy char by char.
            out.append(s).append('"');
            return;
        }
        int start = 0;
        for (int i = first; i < s.length(); i++) {
            char c = s.charAt(i);
            if (needsEscape(c)) {
                out.append(s, start, i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    case '\b' -> out.append("\\b");
                    case '\f' -> out.append("\\f");
                    default -> out.append("\\u").append(HEX[c >> 12]).append(HEX[c >> 8 & 0xF])
                            .append(HEX[c >> 4 & 0xF]).append(HEX[c & 0xF]);
                }
                start = i + 1;
            }
        }
        out.append(s, start, s.length()).append('"');
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static boolean needsEscape(char c) {
        return c < 0x20 || c == '"' || c == '\\' || c == '\u2028' || c == '\u2029';
    }

    // Parsing: strict JSON (RFC 8259), one document, nothing after it but white space.

    private static final class Parser {
        /** Digits that BigInteger's own parsing takes quickly. */
        private static final int DIRECT_DIGITS = 200;
        /** A decimal of at most this many digits is exact as a long and as a double (below 2^53). */
        private static final int FAST_DOUBLE_DIGITS = 15;
        /** 10^0 to 10^22: the powers of ten that are exact doubles. */
        private static final double[] POWERS_OF_TEN = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

        private final String text;
        private int pos;
        private int depth;
        /** Whether a NaN or an infinity was read. */
        boolean nonFinite;

        Parser(String text) {
            this.text = text;
        }

        Object parseDocument() {
            skipWhitespace();
            Object value = parseValue();
            skipWhitespace();
            if (pos != text.length()) {
                throw error("unexpected text after the JSON value");
            }
            return value;
        }

        private Object parseValue() {
            if (pos >= text.length()) {
                throw error("unexpected end of the text");
            }
            char c = text.charAt(pos);
            return switch (c) {
                case '{' -> parseObject();
                case '[' -> parseArray();
                case '"' -> parseString();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                case 'N' -> nonFinite(literal("NaN", Double.NaN));
                case 'I' -> nonFinite(literal("Infinity", Double.POSITIVE_INFINITY));
                default -> {
                    if (c == '-' && text.startsWith("-Infinity", pos)) {
                        yield nonFinite(literal("-Infinity", Double.NEGATIVE_INFINITY));
                    }
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        yield parseNumber();
                    }
                    throw error("unexpected character '" + c + "'");
                }
            };
        }

        private Map<String, Object> parseObject() {
            enter();
            pos++;
            Map<String, Object> map = new LinkedHashMap<>();
            skipWhitespace();
            if (peek() == '}') {
                pos++;
                depth--;
                return Collections.unmodifiableMap(map);
            }
            while (true) {
                skipWhitespace();
                if (peek() != '"') {
                    throw error("expected a string key");
                }
                String key = parseString();
                skipWhitespace();
                expect(':');
                skipWhitespace();
                map.put(key, parseValue());
                skipWhitespace();
                char c = next();
                if (c == '}') {
                    depth--;
                    return Collections.unmodifiableMap(map);
                }
                if (c != ',') {
                    pos--;
                    throw error("expected ',' or '}'");
                }
            }
        }

        private List<Object> parseArray() {
            enter();
            pos++;
            List<Object> list = new ArrayList<>();
            skipWhitespace();
            if (peek() == ']') {
                pos++;
                depth--;
                return Collections.unmodifiableList(list);
            }
            while (true) {
                skipWhitespace();
                list.add(parseValue());
                skipWhitespace();
                char c = next();
                if (c == ']') {
                    depth--;
                    return Collections.unmodifiableList(list);
                }
                if (c != ',') {
                    pos--;
                    throw error("expected ',' or ']'");
                }
            }
        }

        private String parseString() {
            String t = text;
            int length = t.length();
            int start = pos + 1; // after the opening quote
            int i = start;
            // Fast path: no escapes. Locals, not fields, in the loop.
            while (i < length) {
                char c = t.charAt(i);
                if (c == '"') {
                    pos = i + 1;
                    return t.substring(start, i);
                }
                if (c == '\\' || c < 0x20) {
                    break;
                }
                i++;
            }
            pos = i;
            // Room for what was read and a little more, not for the rest of the text: sized so, a document with
            // many escaped strings cost time quadratic in its length.
            StringBuilder sb = new StringBuilder(pos - start + 16);
            sb.append(text, start, pos);
            while (true) {
                if (pos >= text.length()) {
                    throw error("unterminated string");
                }
                char c = text.charAt(pos++);
                if (c == '"') {
                    return sb.toString();
                }
                if (c < 0x20) {
                    pos--;
                    throw error("control character in a string");
                }
                if (c != '\\') {
                    sb.append(c);
                    continue;
                }
                char e = next();
                switch (e) {
                    case '"' -> sb.append('"');
                    case '\\' -> sb.append('\\');
                    case '/' -> sb.append('/');
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'n' -> sb.append('\n');
                    case 'r' -> sb.append('\r');
                    case 't' -> sb.append('\t');
                    case 'u' -> {
                        if (pos + 4 > text.length()) {
                            throw error("incomplete \\u escape");
                        }
                        int code = 0;
                        for (int end = pos + 4; pos < end; pos++) {
                            // Four ASCII hex digits: Integer.parseInt would take a sign ("\\u-123") and other
                            // scripts' digits too.
                            int digit = hexDigit(text.charAt(pos));
                            if (digit < 0) {
                                throw error("invalid \\u escape");
                            }
                            code = code << 4 | digit;
                        }
                        sb.append((char) code);
                    }
                    default -> {
                        pos--;
                        throw error("invalid escape '\\" + e + "'");
                    }
                }
            }
        }

        private Object parseNumber() {
            int start = pos;
            if (peek() == '-') {
                pos++;
            }
            int intStart = pos;
            int digits;
            if (peek() == '0') {
                pos++;
                digits = 1;
            } else if (isDigit(peek())) {
                digits = skipDigits(start, 0);
            } else {
                throw error("invalid number");
            }
            int intEnd = pos;
            boolean integral = true;
            int fractionEnd = pos;
            if (peek() == '.') {
                integral = false;
                pos++;
                if (!isDigit(peek())) {
                    throw error("invalid number");
                }
                digits = skipDigits(start, digits);
                fractionEnd = pos;
            }
            int exponentStart = -1;
            if (peek() == 'e' || peek() == 'E') {
                integral = false;
                pos++;
                exponentStart = pos;
                if (peek() == '+' || peek() == '-') {
                    pos++;
                }
                if (!isDigit(peek())) {
                    throw error("invalid number");
                }
                skipDigits(start, digits);
            }
            boolean negative = intStart > start;
            if (integral && digits <= 18) {
                // Read in place: no substring, no Long.parseLong.
                return narrow(negative ? -digitsValue(intStart, intEnd) : digitsValue(intStart, intEnd));
            }
            if (!integral && digits <= FAST_DOUBLE_DIGITS) {
                Object d = fastDouble(negative, intStart, intEnd, fractionEnd, exponentStart);
                if (d != null) {
                    return d;
                }
            }
            String number = text.substring(start, pos);
            if (!integral) {
                double d = Double.parseDouble(number);
                if (!Double.isFinite(d)) {
                    throw error("number out of range");
                }
                return d;
            }
            if (number.length() <= 18) {
                return narrow(Long.parseLong(number));
            }
            BigInteger big = number.charAt(0) == '-' ? decimal(number, 1, number.length()).negate()
                    : decimal(number, 0, number.length());
            return big.bitLength() < 64 ? narrow(big.longValue()) : big;
        }

        /** The value of the decimal digits text[from, to), at most 18 of them. */
        private long digitsValue(int from, int to) {
            String t = text;
            long value = 0;
            for (int i = from; i < to; i++) {
                value = value * 10 + (t.charAt(i) - '0');
            }
            return value;
        }

        /**
         * A decimal number of at most {@value #FAST_DOUBLE_DIGITS} digits whose power of ten is within 22 either way:
         * its digits and that power are exact doubles, so one multiplication or division rounds it correctly (as
         * {@code Double.parseDouble} does). {@code null} for any other number.
         */
        private Object fastDouble(boolean negative, int intStart, int intEnd, int fractionEnd, int exponentStart) {
            long mantissa = digitsValue(intStart, intEnd);
            String t = text;
            for (int i = intEnd + 1; i < fractionEnd; i++) {
                mantissa = mantissa * 10 + (t.charAt(i) - '0');
            }
            int power = fractionEnd > intEnd ? -(fractionEnd - intEnd - 1) : 0;
            if (exponentStart >= 0) {
                int i = exponentStart;
                boolean negativeExponent = t.charAt(i) == '-';
                if (t.charAt(i) == '-' || t.charAt(i) == '+') {
                    i++;
                }
                if (pos - i > 3) {
                    return null; // leading zeros, or far out of range: the general route
                }
                int exponent = (int) digitsValue(i, pos);
                power += negativeExponent ? -exponent : exponent;
            }
            if (power < -22 || power > 22) {
                return null;
            }
            double value = power < 0 ? mantissa / POWERS_OF_TEN[-power] : mantissa * POWERS_OF_TEN[power];
            return negative ? -value : value;
        }

        /**
         * The value of decimal digits: {@code new BigInteger(text)} costs time quadratic in their number, so longer
         * runs are split in halves joined by one multiplication (Karatsuba's, for numbers this long): about 4 times
         * faster at 4,300 digits, and less than quadratic.
         */
        private static BigInteger decimal(String digits, int from, int to) {
            int length = to - from;
            if (length <= DIRECT_DIGITS) {
                return new BigInteger(digits.substring(from, to));
            }
            int low = length / 2;
            int middle = to - low;
            return decimal(digits, from, middle).multiply(BigInteger.TEN.pow(low)).add(decimal(digits, middle, to));
        }

        /**
         * Moves past digits. @return the number's digits so far: {@code counted} before these, and these
         * @throws IllegalArgumentException past {@link JsonCodec#MAX_NUMBER_DIGITS}, the rest not even looked at
         */
        private int skipDigits(int numberStart, int counted) {
            int limit = Math.min(text.length(), pos + MAX_NUMBER_DIGITS - counted + 1);
            int from = pos;
            while (pos < limit && isDigit(text.charAt(pos))) {
                pos++;
            }
            int digits = counted + pos - from;
            if (digits > MAX_NUMBER_DIGITS) {
                // Turning long digit strings into a BigInteger costs time quadratic in their length.
                pos = numberStart;
                throw error("a number of more than " + MAX_NUMBER_DIGITS + " digits");
            }
            return digits;
        }

        private Object nonFinite(Object value) {
            nonFinite = true;
            return value;
        }

        private Object literal(String word, Object value) {
            if (!text.startsWith(word, pos)) {
                throw error("unexpected text");
            }
            pos += word.length();
            return value;
        }

        private void enter() {
            if (++depth > MAX_DEPTH) {
                throw error("nested deeper than " + MAX_DEPTH + " levels");
            }
        }

        private char peek() {
            return pos < text.length() ? text.charAt(pos) : '\0';
        }

        private char next() {
            if (pos >= text.length()) {
                throw error("unexpected end of the text");
            }
            return text.charAt(pos++);
        }

        private void expect(char c) {
            if (next() != c) {
                pos--;
                throw error("expected '" + c + "'");
            }
        }

        private void skipWhitespace() {
            while (pos < text.length()) {
                char c = text.charAt(pos);
                if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
                    return;
                }
                pos++;
            }
        }

        private static int hexDigit(char c) {
            if (c >= '0' && c <= '9') {
                return c - '0';
            }
            if (c >= 'a' && c <= 'f') {
                return c - 'a' + 10;
            }
            return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        }

        private static boolean isDigit(char c) {
            return c >= '0' && c <= '9';
        }

        private IllegalArgumentException error(String problem) {
            return new IllegalArgumentException("not valid JSON: " + problem + " at position " + pos);
        }
    }

    /** JSON-B, loaded only when an object that is not a map or JSON text is published. */
    private static final class JsonbHolder {
        private static volatile jakarta.json.bind.Jsonb jsonb;

        static String toJson(Object value) {
            try {
                return jsonb().toJson(value);
            } catch (LinkageError e) {
                throw new IllegalArgumentException("cannot serialise a " + value.getClass().getName()
                        + ": no JSON-B implementation is available (the server's jsonb feature, or Yasson); "
                        + "publish a Map or a JSON string instead", e);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("cannot serialise a " + value.getClass().getName()
                        + " to JSON: " + e.getMessage(), e);
            }
        }

        private static jakarta.json.bind.Jsonb jsonb() {
            jakarta.json.bind.Jsonb result = jsonb;
            if (result == null) {
                synchronized (JsonbHolder.class) {
                    result = jsonb;
                    if (result == null) {
                        result = jakarta.json.bind.JsonbBuilder.create();
                        jsonb = result;
                    }
                }
            }
            return result;
        }
    }
}
