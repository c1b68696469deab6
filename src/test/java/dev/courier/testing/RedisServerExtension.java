package dev.courier.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.platform.commons.support.AnnotationSupport;

import java.io.IOException;
import java.util.List;

/**
 * Starts the Redis of a {@link WithRedis} test class before its first test, stops it after its last, and hands it to
 * methods that take a {@link RedisServer}.
 */
public final class RedisServerExtension implements BeforeAllCallback, AfterAllCallback, ParameterResolver {

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(RedisServerExtension.class);

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        WithRedis options = AnnotationSupport.findAnnotation(context.getRequiredTestClass(), WithRedis.class)
                .orElseThrow(() -> new IllegalStateException("@WithRedis is missing"));
        AutoCloseable server;
        boolean plain = !options.controllable() && !options.tls() && options.args().length == 0;
        if (plain && ContainerRedisServer.dockerAvailable()) {
            server = ContainerRedisServer.launch();
        } else {
            server = LocalRedisServer.launch(options.tls(), List.of(options.args()));
        }
        context.getStore(NAMESPACE).put(AutoCloseable.class, server);
        context.getStore(NAMESPACE).put(Handle.class, new Handle((RedisServer) server));
    }

    /**
     * Closes the class's server. Not left to JUnit's closing of AutoCloseable store values: that is switched off in
     * junit-platform.properties (for weld-junit5), and servers were left running.
     */
    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        AutoCloseable server = context.getStore(NAMESPACE).remove(AutoCloseable.class, AutoCloseable.class);
        context.getStore(NAMESPACE).remove(Handle.class);
        if (server != null) {
            server.close();
        }
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == RedisServer.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        Handle handle = context.getStore(NAMESPACE).get(Handle.class, Handle.class);
        if (handle == null) {
            throw new ParameterResolutionException("no Redis: is the class annotated with @WithRedis?");
        }
        return handle.server;
    }

    private record Handle(RedisServer server) {
    }
}
