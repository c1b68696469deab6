package dev.courier.it;

/** The demo on Payara Micro 6. */
class PayaraMicroIT extends DemoApplicationIT {

    @Override
    protected Servers.Kind kind() {
        return Servers.Kind.PAYARA_MICRO;
    }
}
