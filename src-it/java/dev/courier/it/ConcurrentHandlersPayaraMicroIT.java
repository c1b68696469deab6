package dev.courier.it;

/** Concurrent handlers on Payara Micro. */
class ConcurrentHandlersPayaraMicroIT extends ConcurrentHandlersIT {

    @Override
    protected Servers.Kind kind() {
        return Servers.Kind.PAYARA_MICRO;
    }

    @Override
    protected boolean hasSecurity() {
        return true; // Jakarta Security is built in
    }
}
