package dev.courier.it;

/** The demo on Open Liberty (server-config/server.xml). */
class OpenLibertyIT extends DemoApplicationIT {

    @Override
    protected Servers.Kind kind() {
        return Servers.Kind.OPEN_LIBERTY;
    }
}
