package dev.courier.it;

/** The demo on Open Liberty with a redis default broker. */
class RedisOpenLibertyIT extends RedisDemoIT {

    @Override
    protected Servers.Kind kind() {
        return Servers.Kind.OPEN_LIBERTY;
    }
}
