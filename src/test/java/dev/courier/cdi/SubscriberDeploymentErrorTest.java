package dev.courier.cdi;

import dev.courier.BrokerConfigurationException.Code;
import dev.courier.Message;
import dev.courier.Subscribe;
import jakarta.enterprise.context.ApplicationScoped;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.courier.cdi.ConfigurationErrorTest.assertContains;
import static dev.courier.cdi.ConfigurationErrorTest.deploymentFailure;
import static dev.courier.cdi.ConfigurationErrorTest.valid;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Each mistake in a @Subscribe method fails the deployment with a problem of its own ({@code invalid-subscriber},
 * or {@code unknown-broker}) that names the bean and the method, and says the fix.
 */
class SubscriberDeploymentErrorTest {

    static final String PREFIX = "subscriber " + SubscriberDeploymentErrorTest.class.getName();

    @ApplicationScoped
    static class TwoMessageParameters {
        void twice(@Subscribe(stream = "a") Message a, @Subscribe(stream = "b") Message b) {
        }
    }

    @Test
    void subscribe_on_several_parameters_of_one_method() {
        assertContains(deploymentFailure(valid(), TwoMessageParameters.class).assertProblem(Code.INVALID_SUBSCRIBER,
                PREFIX + "$TwoMessageParameters.twice(Message, Message)"), "@Subscribe is on 2 parameters (#0, #1); "
                        + "put it on exactly one, the parameter that receives the message; the others are injected");
    }

    @ApplicationScoped
    static class NoStream {
        void handle(@Subscribe(stream = "") Message message) {
        }
    }

    @Test
    void an_empty_stream() {
        assertContains(deploymentFailure(valid(), NoStream.class).assertProblem(Code.INVALID_SUBSCRIBER,
                PREFIX + "$NoStream.handle(Message)"), "@Subscribe names no stream; give the stream to consume, such "
                        + "as @Subscribe(stream = \"user-events\")");
    }

    @ApplicationScoped
    static class UnknownBroker {
        void handle(@Subscribe(stream = "s", broker = "analytics") Message message) {
        }
    }

    @Test
    void an_unknown_broker_lists_the_configured_ones() {
        assertContains(deploymentFailure(valid("brokers.notifications.provider", "inline"), UnknownBroker.class)
                .assertProblem(Code.UNKNOWN_BROKER, PREFIX + "$UnknownBroker.handle(Message)"),
                "@Subscribe(broker = \"analytics\"): no broker named 'analytics' is configured; configured "
                        + "brokers: [default, notifications]; name one of them or configure "
                        + "brokers.analytics.provider");
    }

    @ApplicationScoped
    static class OnPubSub {
        void handle(@Subscribe(stream = "s", broker = "pubsub") Message message) {
        }
    }

    @Test
    void a_broker_without_consumer_groups_cannot_serve_a_subscriber() {
        // The recording provider's brokers have PUBLISH and SUBSCRIBE only (BASIC_PUBSUB).
        String problem = deploymentFailure(valid("brokers.pubsub.provider", "recording"), OnPubSub.class,
                BrokerInjectionTest.RecordingProvider.class).assertProblem(Code.INVALID_SUBSCRIBER,
                PREFIX + "$OnPubSub.handle(Message)");
        assertContains(problem, "broker 'pubsub' (provider 'recording') cannot serve a subscriber: it lacks [CONSUMER_GROUPS]; a subscriber needs [SUBSCRIBE, CONSUMER_GROUPS] "
                + "(tier SIMPLE_QUEUING or higher, as inline and redis have); subscribe through such a broker");
    }

    static class Envelope<T> {
        public T body;
    }

    @ApplicationScoped
    @SuppressWarnings("rawtypes")
    static class Unbindable {
        void primitive(@Subscribe(stream = "s") int number) {
        }

        void list(@Subscribe(stream = "s") List<String> items) {
        }

        void raw(@Subscribe(stream = "s") Envelope envelope) {
        }

        void rawMap(@Subscribe(stream = "s") Map payload) {
        }
    }

    @Test
    void parameter_types_that_cannot_receive_a_json_object() {
        ConfigurationErrorTest.Failure failure = deploymentFailure(valid(), Unbindable.class);
        String fix = "; declare it as Message, Map<String, Object>, String, or a class or record that JSON-B can bind";
        assertContains(failure.assertProblem(Code.INVALID_SUBSCRIBER, PREFIX + "$Unbindable.primitive(int)"),
                "the @Subscribe parameter cannot receive a message: a primitive (int) cannot receive a JSON object"
                        + fix);
        assertContains(failure.assertProblem(Code.INVALID_SUBSCRIBER, PREFIX + "$Unbindable.list(List<String>)"),
                "the @Subscribe parameter cannot receive a message: interface List<String> cannot be instantiated; "
                        + "declare Map<String, Object> or a class or record" + fix);
        assertContains(failure.assertProblem(Code.INVALID_SUBSCRIBER, PREFIX
                + "$Unbindable.raw(SubscriberDeploymentErrorTest.Envelope)"), "the @Subscribe parameter cannot "
                + "receive a message: the raw type Envelope does not say what its type parameters are; declare "
                + "Envelope<...> with type arguments" + fix);
        assertContains(failure.assertProblem(Code.INVALID_SUBSCRIBER, PREFIX + "$Unbindable.rawMap(Map)"),
                "the @Subscribe parameter cannot receive a message: the raw type Map does not say what the payload "
                        + "holds; declare Map<String, Object>" + fix);
    }

    interface Mailer {
    }

    @ApplicationScoped
    static class MissingDependency {
        void handle(@Subscribe(stream = "s") Message message, Mailer mailer) {
        }
    }

    @Test
    void an_injected_parameter_without_a_bean() {
        String problem = deploymentFailure(valid(), MissingDependency.class).assertProblem(Code.INVALID_SUBSCRIBER,
                PREFIX + "$MissingDependency.handle(Message, SubscriberDeploymentErrorTest.Mailer)");
        assertContains(problem, "parameter #1 (SubscriberDeploymentErrorTest.Mailer) cannot be injected: ");
        assertContains(problem, "Unsatisfied dependencies");
    }

    @ApplicationScoped
    static class ManyMistakes {
        void noStream(@Subscribe(stream = " ") Message message) {
        }

        void unknownBroker(@Subscribe(stream = "s", broker = "nowhere") Message message) {
        }

        void primitive(@Subscribe(stream = "s") long number) {
        }
    }

    @Test
    void every_problem_is_reported_at_once_with_configuration_problems() {
        ConfigurationErrorTest.Failure failure = deploymentFailure(valid("brokers.default.max-retries", "-1",
                "courier.engine.batch-size", "0"), ManyMistakes.class, TwoMessageParameters.class);
        failure.assertProblem(Code.INVALID_VALUE, "courier.engine.batch-size");
        failure.assertProblem(Code.INVALID_VALUE, "brokers.default.max-retries");
        failure.assertProblem(Code.INVALID_SUBSCRIBER, PREFIX + "$ManyMistakes.noStream(Message)");
        failure.assertProblem(Code.UNKNOWN_BROKER, PREFIX + "$ManyMistakes.unknownBroker(Message)");
        failure.assertProblem(Code.INVALID_SUBSCRIBER, PREFIX + "$ManyMistakes.primitive(long)");
        failure.assertProblem(Code.INVALID_SUBSCRIBER, PREFIX + "$TwoMessageParameters.twice(Message, Message)");
        assertEquals(6, failure.problems().size(), failure.message());
    }
}
