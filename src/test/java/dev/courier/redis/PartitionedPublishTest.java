package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.BrokerCapability;
import dev.courier.CapabilityTier;
import dev.courier.DomainEvent;
import dev.courier.inline.InlineBrokerProvider;
import dev.courier.se.CourierRunner;
import dev.courier.spi.BrokerSettings;
import dev.courier.spi.RetryPolicy;
import dev.courier.testing.RedisServer;
import dev.courier.testing.TestConfig;
import dev.courier.testing.WithRedis;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.courier.testing.Replies.list;
import static dev.courier.testing.Replies.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Publishing to a partitioned stream: Protean's layout byte for byte, its key and its refusals. */
@WithRedis
class PartitionedPublishTest {

    private static RedisServer redis;
    private final List<Broker> brokers = new ArrayList<>();
    private String category;

    @BeforeAll
    static void server(RedisServer server) {
        redis = server;
    }

    @BeforeEach
    void newCategory() {
        category = "interop::order-" + UUID.randomUUID().toString().substring(0, 8);
    }

    @AfterEach
    void close() {
        brokers.forEach(Broker::close);
    }

    private RedisBroker broker(Map<String, String> options) {
        RedisBroker broker = (RedisBroker) new RedisBrokerProvider()
                .create("test", RedisBrokerContractTest.settings(redis.uri(), RetryPolicy.DEFAULT, options));
        brokers.add(broker);
        return broker;
    }



    private List<String> members(String key) {
        return list(redis.command("SMEMBERS", key)).stream().map(dev.courier.testing.Replies::text).sorted().toList();
    }

    @Test
    void a_configured_key_field_writes_protean_layout_byte_for_byte() {
        RedisBroker broker = broker(Map.of("partition-key." + category, "order_id"));
        String json = "{\"order_id\":\"o-42\",\"sku\":\"x\"}";
        String id = broker.publish(category, json);

        List<Object> entries = list(redis.command("XRANGE", category + ":o-42", "-", "+"));
        assertEquals(1, entries.size());
        List<Object> entry = list(entries.get(0));
        assertEquals(id, text(entry.get(0)));
        assertEquals(List.of("data", json), list(entry.get(1)).stream().map(dev.courier.testing.Replies::text).toList());
        assertEquals(List.of("o-42"), members(category + ":__partitions__"));
        assertEquals(0L, redis.command("EXISTS", category), "nothing goes to the base stream");
        assertEquals("stream", text(redis.command("TYPE", category + ":o-42")));
        assertEquals("set", text(redis.command("TYPE", category + ":__partitions__")));
    }

    @Test
    void the_key_is_python_str_of_the_field_and_of_data_for_a_protean_event() {
        RedisBroker broker = broker(Map.of());
        broker.partitionBy(category, "k");
        broker.publish(category, Map.of("k", 7));
        broker.publish(category, Map.of("k", true));
        broker.publish(category, Map.of("k", false));
        broker.publish(category, Map.of("k", 1.0));
        broker.publish(category, Map.of("k", 2.5e-5));
        broker.publish(category, Map.of("k", 1e16));
        broker.publish(category, Map.of("k", 12345678901234L));
        broker.publish(category, DomainEvent.of("Shop.OrderPlaced.v1", Map.of("k", "from-data")));
        assertEquals(List.of("1.0", "12345678901234", "1e+16", "2.5e-05", "7", "False", "True", "from-data"),
                members(category + ":__partitions__"));
        assertEquals(1L, redis.command("XLEN", category + ":from-data"));
    }

    @Test
    void python_floats_print_as_python_prints_them() {
        assertEquals("1.0", PartitionKey.pythonFloat(1.0));
        assertEquals("0.1", PartitionKey.pythonFloat(0.1));
        assertEquals("0.0001", PartitionKey.pythonFloat(0.0001));
        assertEquals("1e-05", PartitionKey.pythonFloat(0.00001));
        assertEquals("123456789012345.0", PartitionKey.pythonFloat(123456789012345.0));
        assertEquals("1e+16", PartitionKey.pythonFloat(1e16));
        assertEquals("-1.5e+20", PartitionKey.pythonFloat(-1.5e20));
        assertEquals("-0.0", PartitionKey.pythonFloat(-0.0));
        assertEquals("3.14", PartitionKey.pythonFloat(3.14));
    }

    /**
     * Python's repr of 7,000-odd doubles (any bit pattern, every decade, decimals as written, whole numbers past
     * 2^53, both sides of the exponent-form limits), made by the python3 script at the head of the resource.
     */
    @Test
    void every_double_prints_as_python_3_prints_it() throws java.io.IOException {
        List<String> wrong = new ArrayList<>();
        int checked = 0;
        try (var lines = new java.io.BufferedReader(new java.io.InputStreamReader(java.util.Objects.requireNonNull(
                getClass().getResourceAsStream("python-float-repr.txt")), java.nio.charset.StandardCharsets.UTF_8))) {
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                if (line.startsWith("#")) {
                    continue;
                }
                String[] parts = line.split(" ");
                double d = Double.longBitsToDouble(Long.parseUnsignedLong(parts[0], 16));
                String key = PartitionKey.of(category, "k", Map.of("k", d));
                if (!key.equals(parts[1])) {
                    wrong.add(parts[1] + " printed as " + key);
                }
                checked++;
            }
        }
        assertTrue(checked > 7000, "checked " + checked);
        assertEquals(List.of(), wrong.subList(0, Math.min(10, wrong.size())), wrong.size() + " wrong");
        assertEquals("nan", PartitionKey.pythonFloat(Double.NaN));
        assertEquals("-inf", PartitionKey.pythonFloat(Double.NEGATIVE_INFINITY));
    }

    @Test
    void a_float_key_that_java_17_prints_otherwise_is_published_under_pythons_text() {
        RedisBroker broker = broker(Map.of("partition-key." + category, "k"));
        broker.publish(category, Map.of("k", 1e23)); // Java 17's Double.toString: 9.999999999999999E22
        broker.publish(category, "{\"k\":2.82879384806159E17}"); // a JSON text's float; Java: ...159008E17
        broker.publish(category, Map.of("k", 1.9400994884341945E25)); // Java: ...944E25, as short but farther
        assertEquals(List.of("1.9400994884341945e+25", "1e+23", "2.82879384806159e+17"),
                members(category + ":__partitions__"));
    }

    @Test
    void keys_protean_refuses_are_refused_naming_the_rule_stream_and_field_and_nothing_is_sent() {
        RedisBroker broker = broker(Map.of("partition-key." + category, "k"));
        Map<String, Object> nullKey = new LinkedHashMap<>();
        nullKey.put("k", null);
        nullKey.put("other", 1);
        Map<Object, String> cases = new LinkedHashMap<>();
        cases.put(Map.of("other", 1), "is null or empty");
        cases.put(nullKey, "is null or empty");
        cases.put(Map.of("k", ""), "is null or empty");
        cases.put(Map.of("k", "x".repeat(256)), "longer than 255 characters (256)");
        cases.put(Map.of("k", "a:b"), "contains ':'");
        cases.put(Map.of("k", "dlq"), "reserved name 'dlq'");
        cases.put(Map.of("k", "backfill"), "reserved name 'backfill'");
        cases.put(Map.of("k", "__x__"), "reserved form __x__");
        cases.put(Map.of("k", Map.of("a", 1)), "JSON object");
        cases.forEach((message, rule) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> broker.publish(category, message));
            assertTrue(e.getMessage().contains(rule), e.getMessage());
            assertTrue(e.getMessage().contains("'" + category + "'"), e.getMessage());
            assertTrue(e.getMessage().contains("field 'k'"), e.getMessage());
        });
        assertEquals("x".repeat(255), PartitionKey.of(category, "k", Map.of("k", "x".repeat(255))));
        assertEquals("___", PartitionKey.of(category, "k", Map.of("k", "___")));
        assertEquals(0L, redis.command("EXISTS", category + ":__partitions__"));
        assertEquals(List.of(), list(redis.command("KEYS", category + "*")));
    }

    @Test
    void publish_all_checks_every_key_before_sending_any() {
        RedisBroker broker = broker(Map.of("partition-key." + category, "k"));
        assertThrows(IllegalArgumentException.class,
                () -> broker.publishAll(category, List.of(Map.of("k", "a"), Map.of("k", "b:c"))));
        assertEquals(List.of(), list(redis.command("KEYS", category + "*")));
        List<String> ids = broker.publishAll(category, List.of(Map.of("k", "a"), Map.of("k", "b"), Map.of("k", "a")));
        assertEquals(3, ids.size());
        assertEquals(2L, redis.command("XLEN", category + ":a"));
        assertEquals(List.of("a", "b"), members(category + ":__partitions__"));
    }

    /** How many times the server ran the command, from INFO commandstats. */
    private static long calls(String command) {
        for (String line : text(redis.command("INFO", "commandstats")).split("\r?\n")) {
            if (line.startsWith("cmdstat_" + command + ":calls=")) {
                return Long.parseLong(line.substring(line.indexOf('=') + 1, line.indexOf(',')));
            }
        }
        return 0;
    }

    @Test
    void publish_all_sends_every_sadd_and_xadd_in_one_multi_exec() {
        RedisBroker broker = broker(Map.of("partition-key." + category, "k"));
        List<Map<String, Object>> messages = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            messages.add(Map.of("k", "key-" + (i % 7), "n", i));
        }
        long exec = calls("exec");
        long xadd = calls("xadd");
        List<String> ids = broker.publishAll(category, messages);
        assertEquals(1, calls("exec") - exec, "one MULTI/EXEC for the batch");
        assertEquals(50, calls("xadd") - xadd);
        assertEquals(50, ids.size());
        assertEquals(7, members(category + ":__partitions__").size());
        for (int i = 0; i < 50; i++) { // in order: each id is its message's entry in its key's stream
            List<Object> entry = list(list(redis.command("XRANGE", category + ":key-" + (i % 7), ids.get(i),
                    ids.get(i))).get(0));
            assertEquals(i, dev.courier.internal.JsonCodec.parse(text(list(entry.get(1)).get(1))).get("n"));
        }
    }

    @Test
    void publish_all_that_redis_refuses_in_part_says_which_were_stored() {
        RedisBroker broker = broker(Map.of("partition-key." + category, "k"));
        redis.command("SET", category + ":b", "not a stream"); // XADD to it: WRONGTYPE
        dev.courier.PartialPublishException e = assertThrows(dev.courier.PartialPublishException.class,
                () -> broker.publishAll(category, List.of(Map.of("k", "a"), Map.of("k", "b"), Map.of("k", "c"))));
        assertEquals(List.of(1), e.notStored());
        assertEquals(List.of(0, 2), List.copyOf(e.storedIds().keySet()));
        assertTrue(e.getMessage().contains("2 of 3 messages stored, 1 refused (indexes 1)"), e.getMessage());
        assertTrue(e.getMessage().contains("WRONGTYPE"), e.getMessage());
        assertEquals(e.storedIds().get(0), text(list(list(redis.command("XRANGE", category + ":a", "-", "+")).get(0))
                .get(0)));
        assertEquals(1L, redis.command("XLEN", category + ":c"));
    }

    @Test
    void publish_all_that_redis_refuses_whole_stores_nothing() {
        RedisBroker broker = broker(Map.of("partition-key." + category, "k"));
        redis.command("CONFIG", "SET", "maxmemory", "1"); // every write refused: OOM, when queued in the MULTI
        try {
            dev.courier.BrokerException e = assertThrows(dev.courier.BrokerException.class,
                    () -> broker.publishAll(category, List.of(Map.of("k", "a"), Map.of("k", "b"))));
            assertFalse(e instanceof dev.courier.PartialPublishException, e.toString());
            assertTrue(e.getMessage().contains("OOM") || e.getMessage().contains("EXECABORT"), e.getMessage());
        } finally {
            redis.command("CONFIG", "SET", "maxmemory", "0");
        }
        assertEquals(List.of(), list(redis.command("KEYS", category + "*")));
    }

    /** A message as JSON-B maps it. */
    public record Order(String orderId, int quantity) {
    }

    /** Event data as JSON-B maps it. */
    public record Keyed(String k) {
    }

    enum Colour { RED }

    @Test
    void the_key_is_read_from_the_fields_published_as_their_json_holds_them() {
        RedisBroker broker = broker(Map.of());
        broker.partitionBy(category, "k");
        broker.publish(category, Map.of("k", Colour.RED));
        broker.publish(category, Map.of("k", 'c'));
        broker.publish(category, Map.of("k", 1.5f));
        broker.publish(category, Map.of("k", new java.math.BigDecimal("2.50")));
        broker.publish(category, Map.of("k", (short) 3));
        broker.publish(category, "{\"k\": \"text\"}");
        broker.publishAll(category, List.of(DomainEvent.of("Shop.OrderPlaced.v1", new Keyed("pojo")),
                Map.of("k", 4L)));
        broker.publish(category, Map.of("data", new Keyed("envelope"), "metadata", Map.of("headers",
                Map.of("type", "Shop.OrderPlaced.v1")))); // a hand-made Protean envelope, its data an object
        broker.partitionBy(category + "-orders", "orderId");
        broker.publish(category + "-orders", new Order("o-2", 1));
        assertEquals(List.of("1.5", "2.5", "3", "4", "RED", "c", "envelope", "pojo", "text"), members(category + ":__partitions__"));
        assertEquals(List.of("o-2"), members(category + "-orders:__partitions__"));
    }

    @Test
    void partition_options_are_read_by_their_full_names_from_configuration() {
        try (CourierRunner courier = CourierRunner.builder().property("brokers.default.provider", "redis")
                .property("brokers.default.uri", redis.uri())
                .property("brokers.default.partition-key." + category, "order_id")
                .property("brokers.default.partition-poison.billing", "halt")
                .property(CourierRunner.HEALTH_PORT, "-1").build()) {
            courier.brokers().publish(category, Map.of("order_id", 42));
        }
        assertEquals(List.of("42"), members(category + ":__partitions__"));
    }

    @Test
    void a_misspelt_partition_option_and_a_bad_poison_policy_are_reported_by_property() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> CourierRunner.builder()
                .property("brokers.default.provider", "redis").property("brokers.default.uri", redis.uri())
                .property("brokers.default.partition-keys." + category, "order_id")
                .property("brokers.default.partition-poison.billing", "stop")
                .property(CourierRunner.HEALTH_PORT, "-1").build());
        assertTrue(e.getMessage().contains("brokers.default.partition-keys." + category + ": is not an option"),
                e.getMessage());
        assertTrue(e.getMessage().contains("brokers.default.partition-poison.billing: 'stop' is not a poison "
                + "policy: halt or dead-letter"), e.getMessage());
    }

    @Test
    void list_options_set_from_environment_variables_partition_streams_and_set_poison_policies() {
        String payments = category + "-payments";
        try (TestConfig ignored = TestConfig.of(Map.of(), Map.of(
                "BROKERS_DEFAULT_PROVIDER", "redis",
                "BROKERS_DEFAULT_URI", redis.uri(),
                "BROKERS_DEFAULT_PARTITION_KEYS", category + "=order_id, " + payments + "=payment_id",
                "BROKERS_DEFAULT_PARTITION_POISONS", "app.Billing=halt,app.Audit=dead-letter"));
             CourierRunner courier = CourierRunner.builder().property(CourierRunner.HEALTH_PORT, "-1").build()) {
            courier.brokers().publish(category, Map.of("order_id", 42));
            courier.brokers().publish(payments, Map.of("payment_id", "p-1"));
            RedisBroker broker = (RedisBroker) courier.brokers().get("default");
            assertTrue(broker.haltsOnPoison(category, "app.Billing"));
            assertFalse(broker.haltsOnPoison(category, "app.Audit"));
        }
        assertEquals(List.of("42"), members(category + ":__partitions__"));
        assertEquals(List.of("p-1"), members(payments + ":__partitions__"));
    }

    @Test
    void the_list_and_per_stream_forms_combine_and_disagreements_or_malformed_items_name_the_key() {
        String other = category + "-b";
        RedisBroker broker = broker(Map.of("partition-keys", category + "=k", "partition-key." + other, "id",
                "partition-key." + category, "k"));
        broker.publish(category, Map.of("k", "x"));
        broker.publish(other, Map.of("id", "y"));
        assertEquals(List.of("x"), members(category + ":__partitions__"));
        assertEquals(List.of("y"), members(other + ":__partitions__"));

        Map<Map<String, String>, String> cases = new LinkedHashMap<>();
        cases.put(Map.of("partition-keys", "orders"),
                "brokers.contract.partition-keys: 'orders' is not stream=field");
        cases.put(Map.of("partition-keys", "orders=k,=id"), "brokers.contract.partition-keys: '=id' is not stream=field");
        cases.put(Map.of("partition-keys", "orders="), "brokers.contract.partition-keys: 'orders=' is not stream=field");
        cases.put(Map.of("partition-keys", "orders=k,orders=id"),
                "brokers.contract.partition-keys: stream 'orders' is partitioned by field 'k' in "
                        + "brokers.contract.partition-keys and 'id' here");
        cases.put(Map.of("partition-key.orders", "k", "partition-keys", "orders=id"),
                "brokers.contract.partition-keys: stream 'orders' is partitioned by field 'k' in "
                        + "brokers.contract.partition-key.orders and 'id' here");
        cases.put(Map.of("partition-keys", "orders:dlq=k"), "names a stream Courier keeps for its own");
        cases.put(Map.of("partition-poisons", "app.Billing=stop"),
                "brokers.contract.partition-poisons: 'stop' (group 'app.Billing') is not a poison policy");
        cases.put(Map.of("partition-poison.app.Billing", "halt", "partition-poisons", "app.Billing=dead-letter"),
                "brokers.contract.partition-poisons: group 'app.Billing' is given poison policy 'halt' in "
                        + "brokers.contract.partition-poison.app.Billing and 'dead-letter' here");
        cases.forEach((options, expected) -> {
            dev.courier.BrokerConfigurationException e = assertThrows(dev.courier.BrokerConfigurationException.class,
                    () -> broker(options));
            assertTrue(e.getMessage().contains(expected), e.getMessage());
        });
    }

    @Test
    void a_stream_has_one_key_field() {
        RedisBroker broker = broker(Map.of("partition-key." + category, "k"));
        broker.partitionBy(category, "k");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> broker.partitionBy(category, "other"));
        assertTrue(e.getMessage().contains("'k' already"), e.getMessage());
    }

    @Test
    void redis_declares_stream_partitioning_and_reaches_enterprise_streaming() {
        RedisBroker broker = broker(Map.of());
        assertTrue(broker.hasCapability(BrokerCapability.STREAM_PARTITIONING));
        assertEquals(CapabilityTier.ENTERPRISE_STREAMING, broker.tier());
    }

    @Test
    void a_broker_without_stream_partitioning_refuses_clearly() {
        Broker inline = new InlineBrokerProvider().create("mem", new BrokerSettings("mem", "inline", Map.of()));
        brokers.add(inline);
        assertFalse(inline.hasCapability(BrokerCapability.STREAM_PARTITIONING));
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> inline.partitionBy("orders", "order_id"));
        assertTrue(e.getMessage().contains("broker 'mem' (inline)"), e.getMessage());
        assertTrue(e.getMessage().contains("STREAM_PARTITIONING"), e.getMessage());
    }
}
