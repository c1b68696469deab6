package dev.courier.testkit;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.commons.support.AnnotationSupport;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The JUnit 5 extension behind {@link CourierTest}: sets its system properties before the class's tests and
 * restores them after.
 */
public final class CourierTestExtension implements BeforeAllCallback, AfterAllCallback {

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(CourierTestExtension.class);
    private static final String SAVED = "saved-properties";
    private static final String MP_CONFIG_API = "org.eclipse.microprofile.config.ConfigProvider";

    /** The settings a {@link CourierTest} stands for, as configuration properties. */
    static Map<String, String> properties(CourierTest test) {
        Map<String, String> properties = new LinkedHashMap<>();
        for (String name : test.inline()) {
            if (name.isBlank()) {
                throw new IllegalArgumentException("@CourierTest(inline): a broker name is empty");
            }
            properties.put("brokers." + name + ".provider", "inline");
        }
        if (test.sync()) {
            properties.put("courier.engine.mode", "sync");
        }
        return properties;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        CourierTest test = AnnotationSupport.findAnnotation(context.getRequiredTestClass(), CourierTest.class)
                .orElseThrow(() -> new IllegalStateException(context.getRequiredTestClass().getName()
                        + " is extended with CourierTestExtension but not annotated @CourierTest"));
        Map<String, String> saved = new LinkedHashMap<>();
        properties(test).forEach((key, value) -> {
            saved.put(key, System.getProperty(key));
            System.setProperty(key, value);
        });
        context.getStore(NAMESPACE).put(SAVED, saved);
        releaseConfig();
    }

    @Override
    @SuppressWarnings("unchecked")
    public void afterAll(ExtensionContext context) {
        Map<String, String> saved = context.getStore(NAMESPACE).remove(SAVED, Map.class);
        if (saved != null) {
            saved.forEach((key, value) -> {
                if (value == null) {
                    System.clearProperty(key);
                } else {
                    System.setProperty(key, value);
                }
            });
        }
        releaseConfig();
    }

    /** So that the next ConfigProvider.getConfig() sees the properties, whatever the implementation caches. */
    private static void releaseConfig() {
        if (present(MP_CONFIG_API)) {
            MicroProfileConfig.release();
        }
    }

    private static boolean present(String className) {
        try {
            Class.forName(className, false, CourierTestExtension.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }
}
