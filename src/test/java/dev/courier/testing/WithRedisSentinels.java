package dev.courier.testing;

import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Gives a test class a real Sentinel set ({@link LocalRedisSentinels}), one for the whole class, handed to test and
 * lifecycle methods as a {@link LocalRedisSentinels} parameter, and closed after the class.
 */
@Documented
@Inherited
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RedisSetExtension.class)
public @interface WithRedisSentinels {

    /** Replicas of the master. */
    int replicas() default 1;

    /** Sentinels watching them. */
    int sentinels() default 3;
}
