package dev.courier.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Open Liberty from the runtime that liberty-maven-plugin installed (target/liberty/wlp), running server
 * {@code courier-it} in its own user directory (target/it-servers/liberty): server-config/server.xml, the demo WAR in
 * dropins/, the ports in bootstrap.properties. {@code bin/server run} keeps it in the foreground, so the process is
 * the server's JVM.
 */
final class OpenLibertyServer extends AppServer {

    static final String SERVER = "courier-it";

    private final Path wlp = existing(property("courier.it.liberty.home"));
    private final Path serverConfig = existing(property("courier.it.server-config"));

    /** What is added to server-config/server.xml. */
    enum Variant {
        /** server-config/server.xml as it is. */
        PLAIN("liberty"),
        /** With server-config/telemetry.xml included, the WAR in apps/ (its classloader sees the OpenTelemetry API). */
        TELEMETRY("liberty-telemetry"),
        /** With appSecurity-5.0: a security context on every thread, as an application with a login has. */
        APP_SECURITY("liberty-security");

        private final String directory;

        Variant(String directory) {
            this.directory = directory;
        }
    }

    private final Variant variant;

    OpenLibertyServer() {
        this(Variant.PLAIN);
    }

    OpenLibertyServer(Variant variant) {
        super(variant.directory);
        this.variant = variant;
    }

    @Override
    public String name() {
        return "Open Liberty";
    }

    @Override
    protected Pattern deploymentFailure() {
        // CWWKZ0002E: An exception occurred while starting the application courier-demo. ...
        return Pattern.compile("CWWKZ0002E");
    }

    @Override
    protected Pattern ready() {
        // CWWKF0011I: The defaultServer server is ready to run a smarter planet.
        return Pattern.compile("CWWKF0011I");
    }

    @Override
    protected List<String> command() throws IOException {
        Path userDir = workDir.resolve("usr");
        Path server = userDir.resolve("servers").resolve(SERVER);
        Path apps = server.resolve(variant == Variant.TELEMETRY ? "apps" : "dropins");
        Files.createDirectories(apps);
        String config = Files.readString(serverConfig.resolve("server.xml"));
        if (variant == Variant.TELEMETRY) {
            Files.copy(serverConfig.resolve("telemetry.xml"), server.resolve("telemetry.xml"),
                    StandardCopyOption.REPLACE_EXISTING);
            config = config.replace("</server>", "    <include location=\"telemetry.xml\"/>\n</server>");
        } else if (variant == Variant.APP_SECURITY) {
            config = config.replace("</server>",
                    "    <featureManager>\n        <feature>appSecurity-5.0</feature>\n    </featureManager>\n</server>");
        }
        Files.writeString(server.resolve("server.xml"), config);
        Files.copy(war, apps.resolve(war.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(server.resolve("bootstrap.properties"),
                "http.port=" + httpPort + "\nhttps.port=" + freePort() + "\n");
        environment().putIfAbsent("WLP_USER_DIR", userDir.toAbsolutePath().toString());
        return List.of(wlp.resolve("bin/server").toAbsolutePath().toString(), "run", SERVER);
    }
}
