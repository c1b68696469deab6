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

    /** With server-config/telemetry.xml included, the WAR in apps/ (its classloader sees the OpenTelemetry API). */
    private final boolean telemetry;

    OpenLibertyServer() {
        this(false);
    }

    OpenLibertyServer(boolean telemetry) {
        super(telemetry ? "liberty-telemetry" : "liberty");
        this.telemetry = telemetry;
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
        Path apps = server.resolve(telemetry ? "apps" : "dropins");
        Files.createDirectories(apps);
        String config = Files.readString(serverConfig.resolve("server.xml"));
        if (telemetry) {
            Files.copy(serverConfig.resolve("telemetry.xml"), server.resolve("telemetry.xml"),
                    StandardCopyOption.REPLACE_EXISTING);
            config = config.replace("</server>", "    <include location=\"telemetry.xml\"/>\n</server>");
        }
        Files.writeString(server.resolve("server.xml"), config);
        Files.copy(war, apps.resolve(war.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(server.resolve("bootstrap.properties"),
                "http.port=" + httpPort + "\nhttps.port=" + freePort() + "\n");
        environment().putIfAbsent("WLP_USER_DIR", userDir.toAbsolutePath().toString());
        return List.of(wlp.resolve("bin/server").toAbsolutePath().toString(), "run", SERVER);
    }
}
