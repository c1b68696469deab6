package dev.courier.it;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The jar users put in their WAR: a CDI bean archive that registers its extension and its broker providers. */
class PackagedJarIT {

    static Path jar() throws Exception {
        try (Stream<Path> files = Files.list(Path.of("target"))) {
            return files.filter(p -> p.getFileName().toString().matches("courier-[^-]+(-SNAPSHOT)?\\.jar"))
                    .findFirst().orElseThrow(() -> new AssertionError("no courier jar in target/"));
        }
    }

    @Test
    void the_jar_is_a_bean_archive_and_registers_its_extension_and_providers() throws Exception {
        try (JarFile jar = new JarFile(jar().toFile())) {
            assertNotNull(jar.getEntry("META-INF/beans.xml"), "META-INF/beans.xml");
            assertNotNull(jar.getEntry("META-INF/services/jakarta.enterprise.inject.spi.Extension"));
            assertNotNull(jar.getEntry("META-INF/services/dev.courier.spi.BrokerProvider"));
            assertTrue(jar.stream().noneMatch(e -> e.getName().startsWith("dev/courier/testing/")),
                    "no test classes in the jar");
        }
    }

    @Test
    void every_registered_service_names_a_class_inside_the_jar() throws Exception {
        try (JarFile jar = new JarFile(jar().toFile())) {
            assertEquals(List.of("dev.courier.cdi.CourierExtension"),
                    services(jar, "jakarta.enterprise.inject.spi.Extension"));
            List<String> providers = services(jar, "dev.courier.spi.BrokerProvider");
            assertTrue(providers.contains("dev.courier.inline.InlineBrokerProvider"), providers.toString());
            for (String type : providers) {
                assertNotNull(jar.getEntry(type.replace('.', '/') + ".class"), type + " is not in the jar");
            }
        }
    }

    static List<String> services(JarFile jar, String service) throws Exception {
        try (var in = jar.getInputStream(jar.getEntry("META-INF/services/" + service))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines()
                    .map(String::trim).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        }
    }
}
