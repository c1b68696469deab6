package dev.courier.cdi;

import dev.courier.testing.TestConfig;
import org.jboss.weld.environment.se.Weld;
import org.jboss.weld.environment.se.WeldContainer;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * An application with Courier's engine and {@link RecordingOrders} in a JVM of its own, for
 * {@link RedisEngineCrashTest}: Weld SE, the extension, and a {@code redis} default broker configured as
 * {@link RedisEngineCrashTest#properties} says. Prints {@code STARTED} once deployed; a line {@code HANG} on its
 * standard input makes the next handler call hang, to be killed there.
 *
 * <p>Arguments: redis-uri consumer-name [concurrency [recording-uri]]: the handler records on the broker's Redis,
 * or on {@code recording-uri} (a broker on a cluster records on a plain Redis of its own).
 */
public final class EngineProcess {

    private EngineProcess() {
    }

    public static void main(String[] args) throws Exception {
        java.util.Map<String, String> properties = RedisEngineCrashTest.properties(args[0], args[1]);
        if (args.length > 2) {
            properties.put("courier.subscribers." + RecordingOrders.class.getName() + ".concurrency", args[2]);
        }
        if (args.length > 3) {
            properties.put("test.redis-uri", args[3]);
        }
        TestConfig.of(properties);
        WeldContainer container = new Weld().disableDiscovery()
                .addExtension(new CourierExtension()).addBeanClasses(RecordingOrders.class).initialize();
        System.out.println("STARTED " + container.getId());
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("HANG")) {
                RecordingOrders.HANG.set(true);
            }
        }
        // End of standard input: the test that started this JVM is gone (or done with it), so it must not outlive it.
        Runtime.getRuntime().halt(3);
    }
}
