package dev.courier.redis;

import dev.courier.internal.JsonCodec;
import dev.courier.internal.ProteanEnvelope;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Map;

/**
 * The partition key of a message, computed and checked as Protean does: Python {@code str()} of the key field (of
 * the envelope's {@code data} for a Protean message), refused when Protean's publisher would refuse it.
 */
final class PartitionKey {

    static final int MAX_LENGTH = 255;
    /** Protean's default backfill-lane suffix, reserved as a key. */
    static final String BACKFILL = "backfill";
    static final String DLQ = "dlq";

    private PartitionKey() {
    }

    /**
     * The key of {@code payload} (a message's fields: a parsed or copied payload, or the caller's map as published)
     * for a category partitioned by {@code field}.
     *
     * @throws IllegalArgumentException naming the rule, the category and the field, when Protean would refuse it
     */
    static String of(String category, String field, Map<String, ?> payload) {
        Object given = payload.get("data");
        if (given != null && !(given instanceof Map) && !(given instanceof String)
                && payload.get("metadata") instanceof Map) {
            // A caller's envelope holding an object as its data: read as its JSON holds it, a JSON object.
            Map<String, Object> copy = new java.util.LinkedHashMap<>(payload);
            copy.put("data", JsonCodec.jsonValue(given));
            payload = copy;
        }
        Map<String, ?> data = ProteanEnvelope.type(payload) != null ? ProteanEnvelope.data(payload) : payload;
        // As the JSON holds it: the caller's map may hold an enum, a char, a float, a BigDecimal.
        Object value = data == null || data.get(field) == null ? null : JsonCodec.jsonValue(data.get(field));
        String key = value == null ? null : pythonStr(value, category, field);
        String broken = rule(key);
        if (broken != null) {
            throw new IllegalArgumentException("partition key of stream '" + category + "' (field '" + field
                    + "'): " + broken + "; nothing was sent");
        }
        return key;
    }

    /** The rule {@code key} breaks, or {@code null} when Protean takes it. */
    static String rule(String key) {
        if (key == null || key.isEmpty()) {
            return "is null or empty";
        }
        if (key.length() > MAX_LENGTH) {
            return "is longer than " + MAX_LENGTH + " characters (" + key.length() + ")";
        }
        if (key.indexOf(':') >= 0) {
            return "contains ':'";
        }
        if (key.equals(DLQ) || key.equals(BACKFILL)) {
            return "is the reserved name '" + key + "'";
        }
        if (key.length() >= 4 && key.startsWith("__") && key.endsWith("__")) {
            return "has the reserved form __x__ ('" + key + "')";
        }
        return null;
    }

    /** Python's {@code str()} of a JSON scalar; objects and arrays are refused, as their text is Python's own. */
    private static String pythonStr(Object value, String category, String field) {
        if (value instanceof String text) {
            return text;
        }
        if (value instanceof Boolean b) {
            return b ? "True" : "False";
        }
        if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte
                || value instanceof BigInteger) {
            return value.toString();
        }
        if (value instanceof Double || value instanceof Float) {
            return pythonFloat(((Number) value).doubleValue());
        }
        if (value instanceof BigDecimal decimal) {
            return pythonFloat(decimal.doubleValue());
        }
        throw new IllegalArgumentException("partition key of stream '" + category + "' (field '" + field
                + "'): is a " + (value instanceof Map ? "JSON object" : "JSON array or other non-scalar")
                + ", not a string, number or boolean; nothing was sent");
    }

    /**
     * Python's {@code repr(float)} (its {@code str()}): the shortest digits that read back as {@code d}, the nearer
     * to its exact value where two such strings are as short (ties to an even last digit, as Python's dtoa does);
     * positional for exponents -4 to 15 ({@code 1.0}, {@code 0.0001}), else scientific with a signed
     * two-digit-or-more exponent ({@code 1e+16}, {@code 1.5e-05}). The digits are searched here: Java 17's
     * {@code Double.toString} is not always shortest ({@code 9.999999999999999E22} for 1e23, Python's {@code 1e+23})
     * nor the nearer ({@code 1.9400994884341944E25}, Python's {@code 1.9400994884341945e+25}).
     */
    static String pythonFloat(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        BigDecimal shortest = shortest(Math.abs(d)).stripTrailingZeros();
        String digits = shortest.unscaledValue().toString();
        int exponent = digits.length() - 1 - shortest.scale(); // of the first digit
        String sign = d < 0 ? "-" : "";
        if (exponent >= -4 && exponent < 16) {
            String plain = shortest.toPlainString();
            return sign + (plain.indexOf('.') < 0 ? plain + ".0" : plain);
        }
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        String exp = String.valueOf(Math.abs(exponent));
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (exp.length() < 2 ? "0" + exp : exp);
    }

    /**
     * The decimal of fewest significant digits that reads back as {@code d} (positive, finite): for each length,
     * the two decimals of that length around the exact value, and the nearer of those that read back.
     */
    private static BigDecimal shortest(double d) {
        BigDecimal exact = new BigDecimal(d);
        for (int n = 1; ; n++) { // 17 digits always read back
            BigDecimal down = exact.round(new MathContext(n, RoundingMode.DOWN));
            BigDecimal up = exact.round(new MathContext(n, RoundingMode.UP));
            boolean downReads = down.doubleValue() == d;
            boolean upReads = up.doubleValue() == d;
            if (downReads && upReads) {
                int nearer = exact.subtract(down).compareTo(up.subtract(exact));
                if (nearer != 0) {
                    return nearer < 0 ? down : up;
                }
                return down.unscaledValue().testBit(0) ? up : down; // halfway: the even last digit
            }
            if (downReads || upReads) {
                return downReads ? down : up;
            }
        }
    }
}
