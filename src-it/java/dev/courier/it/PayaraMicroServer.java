package dev.courier.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Payara Micro 6 (the jar that maven-dependency-plugin copied to target/payara), as a user would start it:
 * {@code java -jar payara-micro.jar --deploy courier-demo.war --port N --nocluster}. The WAR's glassfish-web.xml puts
 * the demo at /; the health endpoints are the server's own (/health/ready ...).
 */
final class PayaraMicroServer extends AppServer {

    private final Path jar = existing(property("courier.it.payara.jar"));

    PayaraMicroServer() {
        super("payara");
    }

    @Override
    public String name() {
        return "Payara Micro";
    }

    @Override
    protected Pattern deploymentFailure() {
        // The first of the two SEVERE entries holds the cause.
        return Pattern.compile("Exception during lifecycle processing|Exception while loading the app");
    }

    @Override
    protected Pattern ready() {
        return Pattern.compile("Payara Micro .* ready in");
    }

    @Override
    protected List<String> command() throws IOException {
        Path tmp = Files.createDirectories(workDir.resolve("tmp"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return List.of(java, "-Djava.io.tmpdir=" + tmp.toAbsolutePath(), "-jar", jar.toAbsolutePath().toString(),
                "--deploy", war.toAbsolutePath().toString(),
                "--port", Integer.toString(httpPort),
                "--nocluster", "--disablephonehome");
    }
}
