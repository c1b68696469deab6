package dev.courier.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * Starts the cluster of a {@link WithRedisCluster} class or the Sentinel set of a {@link WithRedisSentinels} one
 * before its first test, closes it after its last, and hands it to methods that take a {@link LocalRedisCluster} or a
 * {@link LocalRedisSentinels}.
 */
public final class RedisSetExtension implements BeforeAllCallback, AfterAllCallback, ParameterResolver {

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(RedisSetExtension.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        Class<?> test = context.getRequiredTestClass();
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        AnnotationSupport.findAnnotation(test, WithRedisCluster.class).ifPresent(options ->
                store.put(LocalRedisCluster.class, LocalRedisCluster.start(options.masters(), options.replicas())));
        AnnotationSupport.findAnnotation(test, WithRedisSentinels.class).ifPresent(options ->
                store.put(LocalRedisSentinels.class, LocalRedisSentinels.start(options.replicas(),
                        options.sentinels())));
    }

    /** Closes them; not left to JUnit's closing of store values, switched off in junit-platform.properties. */
    @Override
    public void afterAll(ExtensionContext context) {
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        LocalRedisCluster cluster = store.remove(LocalRedisCluster.class, LocalRedisCluster.class);
        LocalRedisSentinels sentinels = store.remove(LocalRedisSentinels.class, LocalRedisSentinels.class);
        if (cluster != null) {
            cluster.close();
        }
        if (sentinels != null) {
            sentinels.close();
        }
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return type == LocalRedisCluster.class || type == LocalRedisSentinels.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        Object started = context.getStore(NAMESPACE).get(type);
        if (started == null) {
            throw new ParameterResolutionException("no " + type.getSimpleName() + ": is the class annotated with "
                    + (type == LocalRedisCluster.class ? "@WithRedisCluster" : "@WithRedisSentinels") + "?");
        }
        return started;
    }
}
