package dev.courier.it;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The demo WAR holds what a user's WAR would: the Courier jar and its one runtime dependency, Jedis (with Jedis's
 * own), and none of the APIs the server provides, which would clash with the server's.
 */
class DemoWarIT {

    private final Path war = Path.of(System.getProperty("courier.it.war", "target/liberty-config/dropins/courier-demo.war"));

    @Test
    void carries_courier_and_jedis_in_web_inf_lib() throws IOException {
        List<String> libs = libs();

        assertTrue(libs.stream().anyMatch(l -> l.matches("courier-.*\\.jar")), libs::toString);
        assertTrue(libs.stream().anyMatch(l -> l.matches("jedis-.*\\.jar")), libs::toString);
    }

    @Test
    void carries_no_api_that_the_server_provides() throws IOException {
        List<String> provided = libs().stream()
                .filter(l -> l.startsWith("jakarta.") || l.startsWith("microprofile-") || l.contains("-api-")
                        && !l.startsWith("slf4j-api"))
                .toList();

        assertEquals(List.of(), provided);
    }

    @Test
    void carries_the_demo_classes_and_its_configuration() throws IOException {
        try (ZipFile zip = new ZipFile(war.toFile())) {
            for (String entry : List.of("WEB-INF/classes/dev/courier/demo/DemoResource.class",
                    "WEB-INF/classes/META-INF/microprofile-config.properties", "WEB-INF/beans.xml",
                    "WEB-INF/ibm-web-ext.xml", "WEB-INF/glassfish-web.xml")) {
                assertTrue(zip.getEntry(entry) != null, entry + " is missing from " + war);
            }
            assertTrue(zip.stream().noneMatch(e -> e.getName().startsWith("WEB-INF/classes/dev/courier/it/")),
                    "the integration tests are not part of the demo");
        }
    }

    private List<String> libs() throws IOException {
        try (ZipFile zip = new ZipFile(war.toFile())) {
            return zip.stream().map(ZipEntry::getName)
                    .filter(n -> n.startsWith("WEB-INF/lib/") && n.length() > "WEB-INF/lib/".length())
                    .map(n -> n.substring("WEB-INF/lib/".length()))
                    .sorted()
                    .toList();
        }
    }
}
