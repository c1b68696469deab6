package dev.courier.testing;

import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Gives a test class a real Redis Cluster ({@link LocalRedisCluster}), one for the whole class, handed to test and
 * lifecycle methods as a {@link LocalRedisCluster} parameter, and closed after the class.
 *
 * <pre>{@code
 * @WithRedisCluster
 * class OnACluster {
 *     private static LocalRedisCluster cluster;
 *
 *     @BeforeAll
 *     static void cluster(LocalRedisCluster started) {
 *         cluster = started;
 *     }
 * }
 * }</pre>
 */
@Documented
@Inherited
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RedisSetExtension.class)
public @interface WithRedisCluster {

    /** Masters; at least 3. */
    int masters() default 3;

    /** Replicas of each master: two, and a master failed over still has one. */
    int replicas() default 1;
}
