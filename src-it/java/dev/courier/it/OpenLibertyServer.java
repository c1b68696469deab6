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

    OpenLibertyServer() {
        super("liberty");
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
        Files.createDirectories(server.resolve("dropins"));
        Files.copy(serverConfig.resolve("server.xml"), server.resolve("server.xml"),
                StandardCopyOption.REPLACE_EXISTING);
        Files.copy(war, server.resolve("dropins").resolve(war.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(server.resolve("bootstrap.properties"),
                "http.port=" + httpPort + "\nhttps.port=" + freePort() + "\n");
        environment().putIfAbsent("WLP_USER_DIR", userDir.toAbsolutePath().toString());
        return List.of(wlp.resolve("bin/server").toAbsolutePath().toString(), "run", SERVER);
    }
}
