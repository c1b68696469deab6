package dev.courier.bench;

import dev.courier.internal.JsonCodec;
import org.springframework.data.redis.connection.RedisStandaloneConfiguration;
import org.springframework.data.redis.connection.jedis.JedisClientConfiguration;
import org.springframework.data.redis.connection.jedis.JedisConnectionFactory;
import org.springframework.data.redis.connection.stream.Consumer;
import org.springframework.data.redis.connection.stream.MapRecord;
import org.springframework.data.redis.connection.stream.ReadOffset;
import org.springframework.data.redis.connection.stream.StreamOffset;
import org.springframework.data.redis.connection.stream.StreamRecords;
import org.springframework.data.redis.core.StringRedisTemplate;
import org.springframework.data.redis.stream.StreamListener;
import org.springframework.data.redis.stream.StreamMessageListenerContainer;
import org.springframework.data.redis.stream.StreamMessageListenerContainer.StreamMessageListenerContainerOptions;

import java.time.Duration;
import java.util.Map;

/**
 * The peer: Spring Data Redis on the same Jedis, with a {@link StreamMessageListenerContainer} that reads in batches
 * of the same size and acknowledges each record by hand (at-least-once, as Courier).
 */
final class Peer implements AutoCloseable {

    private final JedisConnectionFactory factory;
    private final StringRedisTemplate template;

    Peer(String host, int port) {
        JedisClientConfiguration client = JedisClientConfiguration.builder()
                .connectTimeout(Duration.ofSeconds(2)).readTimeout(Duration.ofSeconds(2))
                .usePooling().build(); // 8 connections, as Courier's default pool-size
        factory = new JedisConnectionFactory(new RedisStandaloneConfiguration(host, port), client);
        factory.afterPropertiesSet();
        factory.start();
        template = new StringRedisTemplate(factory);
    }

    /** Publishes one message as XADD stream * data json; the payload is serialised as Courier does. */
    String publish(String stream, Map<String, Object> payload) {
        MapRecord<String, String, String> record = StreamRecords.newRecord().in(stream)
                .ofMap(Map.of("data", JsonCodec.write(payload)));
        return template.opsForStream().add(record).getValue();
    }

    /** A container reading {@code stream} as {@code group}, each record handed to {@code handler} then XACKed. */
    StreamMessageListenerContainer<String, MapRecord<String, String, String>> consume(
            String stream, String group, int batchSize, java.util.function.Consumer<Map<String, Object>> handler) {
        StreamMessageListenerContainerOptions<String, MapRecord<String, String, String>> options =
                StreamMessageListenerContainerOptions.builder().batchSize(batchSize)
                        .pollTimeout(Duration.ofMillis(100)).build();
        StreamMessageListenerContainer<String, MapRecord<String, String, String>> container =
                StreamMessageListenerContainer.create(factory, options);
        StreamListener<String, MapRecord<String, String, String>> listener = record -> {
            handler.accept(JsonCodec.parse(record.getValue().get("data")));
            template.opsForStream().acknowledge(group, record);
        };
        container.receive(Consumer.from(group, "peer"), StreamOffset.create(stream, ReadOffset.lastConsumed()),
                listener);
        container.start();
        return container;
    }

    @Override
    public void close() {
        factory.destroy();
    }
}
