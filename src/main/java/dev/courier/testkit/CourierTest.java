package dev.courier.testkit;

import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs a test class on in-memory brokers: for the class's tests, the brokers named by {@link #inline()} (by default
 * {@code default}) are {@code inline} brokers whatever the application's configuration says, and the engine runs
 * in {@code sync} mode, so that a publish returns once the stream's subscribers have handled the message. Works for
 * Weld tests and for Java SE tests that build a {@link dev.courier.se.CourierRunner}; a test method may take a
 * {@link TestBrokers} parameter for its assertions.
 *
 * <pre>{@code
 * @CourierTest                                   // first, so that its settings are in place when Weld starts
 * @EnableAutoWeld
 * @AddExtensions(CourierExtension.class)
 * @AddBeanClasses({GreetingResource.class, GreetingSubscriber.class, Greetings.class})
 * class GreetingTest {
 *     @Inject GreetingResource resource;
 *     @Inject Greetings greetings;
 *     TestBrokers brokers = TestBrokers.fromCdi();
 *
 *     @Test
 *     void a_greeting_is_published_and_handled() {
 *         resource.greet(new Greeting("Ada"));
 *         brokers.assertPublished("greetings", 1);
 *         assertEquals(List.of("Hello, Ada!"), greetings.all());   // sync mode: handled already
 *     }
 * }
 * }</pre>
 *
 * <p>The settings are system properties ({@code brokers.<name>.provider=inline}, {@code courier.engine.mode=sync}),
 * which rank above the application's {@code microprofile-config.properties} and the environment, set before the
 * class's first test and restored after its last; the MicroProfile Config of the thread's class loader is released
 * at both points, so that it is built again with them. Tests that run in parallel in one JVM share system
 * properties: do not run {@code @CourierTest} classes in parallel with tests that need other broker settings. A
 * broker switched to {@code inline} keeps its other options: {@code uri} is ignored, options that only a Redis
 * provider knows ({@code pool-size} ...) fail the deployment, so keep those out of the configuration tests read.
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@ExtendWith(CourierTestExtension.class)
public @interface CourierTest {

    /** The brokers to run as {@code inline}; {@code default} unless given. */
    String[] inline() default {"default"};

    /** Whether the engine runs in {@code sync} mode ({@code courier.engine.mode=sync}). */
    boolean sync() default true;
}
