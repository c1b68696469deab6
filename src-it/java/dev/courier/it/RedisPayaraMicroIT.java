package dev.courier.it;

/** The demo on Payara Micro with a redis default broker. */
class RedisPayaraMicroIT extends RedisDemoIT {

    @Override
    protected Servers.Kind kind() {
        return Servers.Kind.PAYARA_MICRO;
    }
}
