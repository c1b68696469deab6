package dev.courier.redis;

import dev.courier.Broker;
import dev.courier.DomainEvent;
import dev.courier.Message;
import dev.courier.spi.BrokerSettings;
import dev.courier.testing.RedisServer;
import dev.courier.testing.WithRedis;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

import java.io.StringReader;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Protean events on {@code redis_pubsub} list items ({@code [uuid, message]}), both ways, through plain Jedis. */
@WithRedis
class ProteanListItemTest {

    @Test
    void a_protean_event_in_a_list_item_is_read_by_its_type_and_a_domain_event_is_written_as_protean_reads_items(RedisServer redis) {
        String stream = "notices-" + UUID.randomUUID();
        try (Jedis jedis = new Jedis(redis.host(), redis.port());
             Broker broker = new RedisPubSubBrokerProvider().create("notifications", new BrokerSettings(
                     "notifications", RedisPubSubBrokerProvider.NAME, Map.of("uri", redis.uri())))) {
            jedis.rpush(stream, "[\"7d1e0c4a-uuid\", {\"data\": {\"to\": \"a@example.com\"}, \"metadata\": "
                    + "{\"headers\": {\"id\": \"app::notice-1-0.1\", \"type\": \"App.NoticeSent.v1\", "
                    + "\"traceparent\": null}, \"domain\": {\"kind\": \"EVENT\", \"correlation_id\": \"c-1\"}}}]");
            Message message = broker.getNext(stream, "mailer").orElseThrow();
            assertEquals("7d1e0c4a-uuid", message.id());
            assertEquals("App.NoticeSent.v1", message.type());
            DomainEvent event = message.event().orElseThrow();
            assertEquals("app::notice-1-0.1", event.id());
            assertEquals("c-1", event.correlationId());
            assertEquals(Map.of("to", "a@example.com"), event.data());

            String id = broker.publish(stream, DomainEvent.of("App.NoticeQueued.v1", Map.of("to", "b@example.com")));
            List<String> items = jedis.lrange(stream, 1, 1);
            try (JsonReader reader = Json.createReader(new StringReader(items.get(0)))) {
                JsonArray item = reader.readArray();
                assertEquals(id, item.getString(0));
                JsonObject published = item.getJsonObject(1);
                assertEquals("b@example.com", published.getJsonObject("data").getString("to"));
                assertEquals("App.NoticeQueued.v1",
                        published.getJsonObject("metadata").getJsonObject("headers").getString("type"));
                assertEquals("EVENT", published.getJsonObject("metadata").getJsonObject("domain").getString("kind"));
            }
        }
    }
}
