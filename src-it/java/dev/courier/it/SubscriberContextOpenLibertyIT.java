package dev.courier.it;

/** {@link SubscriberContextIT} on Open Liberty. */
class SubscriberContextOpenLibertyIT extends SubscriberContextIT {

    @Override
    protected Servers.Kind kind() {
        return Servers.Kind.OPEN_LIBERTY;
    }
}
