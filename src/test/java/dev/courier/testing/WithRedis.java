package dev.courier.testing;

import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Gives a test class a real Redis, one server for the whole class, handed to test and lifecycle methods as a
 * {@link RedisServer} parameter. Never the machine's Redis on 6379.
 *
 * <pre>{@code
 * @WithRedis(controllable = true, args = {"--appendonly", "yes"})
 * class RestartTest {
 *     @Test
 *     void survivesARestart(RedisServer redis) {
 *         Broker broker = ...uri(redis.uri())...;
 *         redis.stop();
 *         redis.start();     // same port, same folder: the AOF is read back
 *     }
 * }
 * }</pre>
 *
 * <p>Where the server comes from, first that works: a Testcontainers container when a Docker engine is there (not for
 * {@code controllable}, {@code tls} or {@code args}); {@code redis-server} from the PATH; the redis-server binary in
 * the test dependency {@code com.github.codemonstur:embedded-redis}. The last two run in a temporary folder on a free
 * port and are killed after the class, or within a moment of the test JVM's death if it is killed first.
 */
@Documented
@Inherited
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RedisServerExtension.class)
public @interface WithRedis {

    /** Needs a process the test can stop, start, kill and pause. */
    boolean controllable() default false;

    /** Also listen with TLS on a second port, with a self-signed certificate made with the JDK's {@code keytool}. */
    boolean tls() default false;

    /** More redis-server arguments, such as {@code {"--appendonly", "yes"}}. */
    String[] args() default {};
}
