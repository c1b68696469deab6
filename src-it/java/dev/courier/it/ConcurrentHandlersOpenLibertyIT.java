package dev.courier.it;

/**
 * Concurrent handlers on Open Liberty, with appSecurity-5.0: without a security feature Liberty has no security
 * context outside requests on any thread, so there would be none to compare.
 */
class ConcurrentHandlersOpenLibertyIT extends ConcurrentHandlersIT {

    @Override
    protected Servers.Kind kind() {
        return Servers.Kind.OPEN_LIBERTY_SECURITY;
    }
}
