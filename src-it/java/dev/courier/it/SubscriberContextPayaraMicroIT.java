package dev.courier.it;

/** {@link SubscriberContextIT} on Payara Micro. */
class SubscriberContextPayaraMicroIT extends SubscriberContextIT {

    @Override
    protected Servers.Kind kind() {
        return Servers.Kind.PAYARA_MICRO;
    }
}
