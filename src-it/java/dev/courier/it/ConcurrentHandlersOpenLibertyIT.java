package dev.courier.it;

/** Concurrent handlers on Open Liberty. */
class ConcurrentHandlersOpenLibertyIT extends ConcurrentHandlersIT {

    @Override
    protected Servers.Kind kind() {
        return Servers.Kind.OPEN_LIBERTY;
    }

    @Override
    protected boolean hasSecurity() {
        return false; // no security feature in server-config/server.xml
    }
}
