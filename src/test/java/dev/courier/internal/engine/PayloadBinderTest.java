package dev.courier.internal.engine;

import dev.courier.Message;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which parameter types can receive a message (a JSON object), and what they receive. */
class PayloadBinderTest {

    public static class Envelope<T> {
        public T body;
    }

    public static class Order {
        public String id;
        public int quantity;
    }

    abstract static class Shape {
    }

    class Inner {
    }

    @SuppressWarnings({"unused", "rawtypes"})
    static <T> void types(Message message, Map<String, Object> payload, Map<String, ?> wildcard,
                          Map<String, Integer> numbers, String json, Order order, Envelope<Order> envelope,
                          int primitive, Integer boxed, Object object, List<String> list, ArrayList<String> arrayList,
                          Map raw, Map<Integer, Object> intKeys, Envelope<?> unknown, Envelope rawEnvelope,
                          T variable, Shape shape, Inner inner, TimeUnit enumeration, Order[] array) {
    }

    static Type type(int index) {
        return java.util.Arrays.stream(PayloadBinderTest.class.getDeclaredMethods())
                .filter(m -> m.getName().equals("types")).findFirst().orElseThrow()
                .getGenericParameterTypes()[index];
    }

    @Test
    void bindable_types() {
        for (int i = 0; i <= 6; i++) {
            assertNull(PayloadBinder.problem(type(i)), type(i).getTypeName());
        }
    }

    @Test
    void unbindable_types_say_why() {
        for (int i = 7; i <= 20; i++) {
            assertNotNull(PayloadBinder.problem(type(i)), type(i).getTypeName());
        }
        assertEquals("Integer is not a JSON object type", PayloadBinder.problem(type(8)));
        assertEquals("a JSON object's keys are strings, so the map must be Map<String, ...>, not Map<Integer, Object>",
                PayloadBinder.problem(type(13)));
        assertEquals("type argument ? of PayloadBinderTest.Envelope<?> is not known at run time; declare concrete "
                + "type arguments", PayloadBinder.problem(type(14)));
        assertTrue(PayloadBinder.problem(type(18)).startsWith("inner class Inner needs an enclosing instance"));
        assertThrows(IllegalArgumentException.class, () -> PayloadBinder.of(type(7), () -> null));
    }

    @Test
    @SuppressWarnings("try")
    void what_each_type_receives() throws Exception {
        Message message = new Message("1-1", "orders", Map.of("id", "A7", "quantity", 3), 1);
        try (jakarta.json.bind.Jsonb jsonb = jakarta.json.bind.JsonbBuilder.create()) {
            assertSame(message, PayloadBinder.of(type(0), () -> jsonb).bind(message));
            assertSame(message.payload(), PayloadBinder.of(type(1), () -> jsonb).bind(message));
            assertEquals(Map.of("id", "A7", "quantity", 3),
                    dev.courier.internal.JsonCodec.parse((String) PayloadBinder.of(type(4), () -> jsonb).bind(message)));
            Order order = (Order) PayloadBinder.of(type(5), () -> jsonb).bind(message);
            assertEquals("A7", order.id);
            assertEquals(3, order.quantity);
            Message wrapped = new Message("1-2", "orders", Map.of("body", Map.of("id", "B1", "quantity", 1)), 1);
            @SuppressWarnings("unchecked")
            Envelope<Order> envelope = (Envelope<Order>) PayloadBinder.of(type(6), () -> jsonb).bind(wrapped);
            assertEquals("B1", envelope.body.id);
            Message bad = new Message("1-3", "orders", Map.of("id", "A7", "quantity", "lots"), 1);
            PayloadBinder.BindingException e = assertThrows(PayloadBinder.BindingException.class,
                    () -> PayloadBinder.of(type(5), () -> jsonb).bind(bad));
            assertTrue(e.getMessage().startsWith("cannot bind the payload to " + Order.class.getName()), e.getMessage());
        }
    }

    public record Price(String item, double amount, Double discount, List<Double> history) {
    }

    @Test
    @SuppressWarnings("try")
    void nan_and_the_infinities_read_from_python_bind_to_doubles() throws Exception {
        Message message = new Message("1-1", "prices",
                dev.courier.internal.JsonCodec.parse("{\"item\": \"tea\", \"amount\": NaN, \"discount\": -Infinity, "
                        + "\"history\": [1.5, Infinity]}"), 1);
        try (jakarta.json.bind.Jsonb jsonb = jakarta.json.bind.JsonbBuilder.create()) {
            Price price = (Price) PayloadBinder.of(Price.class, () -> jsonb).bind(message);
            assertEquals(new Price("tea", Double.NaN, Double.NEGATIVE_INFINITY, List.of(1.5, Double.POSITIVE_INFINITY)),
                    price);
        }
        Map<String, Object> finite = Map.of("a", List.of(1.5, Map.of("b", 2)));
        assertSame(finite, PayloadBinder.JsonbBinder.nonFiniteAsText(finite), "no copy when nothing changes");
    }
}
