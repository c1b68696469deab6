package dev.courier.it;

/** Concurrent handlers on Payara Micro (Jakarta Security is built in). */
class ConcurrentHandlersPayaraMicroIT extends ConcurrentHandlersIT {

    @Override
    protected Servers.Kind kind() {
        return Servers.Kind.PAYARA_MICRO;
    }
}
