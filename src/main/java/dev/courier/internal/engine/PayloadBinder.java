package dev.courier.internal.engine;

import dev.courier.Message;
import dev.courier.internal.ProteanEnvelope;
import dev.courier.internal.JsonCodec;
import jakarta.json.bind.Jsonb;

import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.util.Collection;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Turns a message into the argument of a {@code @Subscribe} parameter of a given type. A class or record binds from
 * the payload, or from {@code data} for a message in Protean's envelope; {@code Message}, {@code Map} and
 * {@code String} get the whole payload.
 */
abstract class PayloadBinder {

    /** The argument for this message. @throws BindingException the payload does not fit the type */
    abstract Object bind(Message message);

    /** Whether binding needs JSON-B. */
    boolean usesJsonb() {
        return false;
    }

    static PayloadBinder of(Type type, Supplier<Jsonb> jsonb) {
        String problem = problem(type);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        if (type == Message.class) {
            return new PayloadBinder() {
                @Override
                Object bind(Message message) {
                    return message;
                }
            };
        }
        if (type == String.class) {
            return new PayloadBinder() {
                @Override
                Object bind(Message message) {
                    return JsonCodec.write(message.payload());
                }
            };
        }
        if (isPlainMap(type)) {
            return new PayloadBinder() {
                @Override
                Object bind(Message message) {
                    return message.payload();
                }
            };
        }
        return new JsonbBinder(type, jsonb);
    }

    /** {@code Map<String, Object>} or {@code Map<String, ?>}: the payload as it is. */
    private static boolean isPlainMap(Type type) {
        if (type instanceof ParameterizedType p && p.getRawType() == Map.class) {
            Type value = p.getActualTypeArguments()[1];
            return value == Object.class
                    || value instanceof WildcardType w && w.getUpperBounds()[0] == Object.class
                    && w.getLowerBounds().length == 0;
        }
        return false;
    }

    /** Why a parameter of this type cannot receive a message, or {@code null}. */
    static String problem(Type type) {
        if (type == Message.class || type == String.class) {
            return null;
        }
        if (type instanceof Class<?> c) {
            return classProblem(c, c.getSimpleName());
        }
        if (type instanceof ParameterizedType p) {
            Class<?> raw = (Class<?>) p.getRawType();
            if (raw == Map.class) {
                Type key = p.getActualTypeArguments()[0];
                if (key != String.class) {
                    return "a JSON object's keys are strings, so the map must be Map<String, ...>, not " + name(type);
                }
                return isPlainMap(type) ? null : argumentsProblem(p);
            }
            String problem = classProblem(raw, name(type));
            return problem != null ? problem : argumentsProblem(p);
        }
        if (type instanceof TypeVariable<?> || type instanceof WildcardType) {
            return "type " + name(type) + " is not known at run time; declare a concrete type";
        }
        if (type instanceof GenericArrayType) {
            return "an array cannot receive a JSON object";
        }
        return "type " + name(type) + " is not supported";
    }

    private static String classProblem(Class<?> c, String shown) {
        if (c.isPrimitive()) {
            return "a primitive (" + c.getName() + ") cannot receive a JSON object";
        }
        if (c.isArray()) {
            return "an array cannot receive a JSON object";
        }
        if (c == Map.class) {
            return "the raw type Map does not say what the payload holds; declare Map<String, Object>";
        }
        if (c.isInterface()) {
            return "interface " + shown + " cannot be instantiated; declare Map<String, Object> or a class or record";
        }
        if (c.isEnum() || Number.class.isAssignableFrom(c) || c == Boolean.class || c == Character.class
                || c == Object.class || Collection.class.isAssignableFrom(c) || Map.class.isAssignableFrom(c)
                || c.getName().startsWith("java.")) {
            return shown + " is not a JSON object type";
        }
        if (Modifier.isAbstract(c.getModifiers())) {
            return "abstract class " + shown + " cannot be instantiated; declare a concrete class or record";
        }
        if (c.isAnonymousClass() || c.isLocalClass()
                || c.isMemberClass() && !Modifier.isStatic(c.getModifiers())) {
            return "inner class " + shown + " needs an enclosing instance to be created; make it a static nested "
                    + "class, a top-level class or a record";
        }
        if (c.getTypeParameters().length > 0 && shown.equals(c.getSimpleName())) {
            return "the raw type " + shown + " does not say what its type parameters are; declare "
                    + shown + "<...> with type arguments";
        }
        return null;
    }

    private static String argumentsProblem(ParameterizedType p) {
        for (Type argument : p.getActualTypeArguments()) {
            if (argument instanceof TypeVariable<?> || argument instanceof WildcardType) {
                return "type argument " + name(argument) + " of " + name(p)
                        + " is not known at run time; declare concrete type arguments";
            }
        }
        return null;
    }

    private static String name(Type type) {
        return type.getTypeName().replaceAll("\\b[a-z][\\w]*\\.", "").replace("$", ".");
    }

    /** Binds the payload's JSON with JSON-B; non-finite numbers go as text, which JSON-B reads into doubles. */
    static final class JsonbBinder extends PayloadBinder {
        private final Type type;
        private final Supplier<Jsonb> jsonb;

        JsonbBinder(Type type, Supplier<Jsonb> jsonb) {
            this.type = type;
            this.jsonb = jsonb;
        }

        @Override
        boolean usesJsonb() {
            return true;
        }

        @Override
        Object bind(Message message) {
            try {
                // A Protean message's fields are under "data".
                Map<String, Object> data = ProteanEnvelope.data(message.payload());
                Object fields = nonFiniteAsText(data != null ? data : message.payload());
                Object bound = jsonb.get().fromJson(JsonCodec.writeValue(fields), type);
                if (bound == null) {
                    throw new BindingException("cannot bind the payload to " + type.getTypeName() + ": JSON-B gave null");
                }
                return bound;
            } catch (BindingException e) {
                throw e;
            } catch (RuntimeException e) {
                throw new BindingException("cannot bind the payload to " + type.getTypeName() + ": "
                        + rootMessage(e), e);
            }
        }

        /**
         * The value with each NaN or infinity (read from Python's JSON) as the text "NaN", "Infinity" or "-Infinity",
         * which JSON-B reads into a double, while it refuses them bare; the value itself when it holds none.
         */
        static Object nonFiniteAsText(Object value) {
            if (value instanceof Double d) {
                return Double.isFinite(d) ? d : d.toString();
            }
            if (value instanceof Map<?, ?> map) {
                Map<Object, Object> copy = null;
                for (Map.Entry<?, ?> entry : map.entrySet()) {
                    Object item = nonFiniteAsText(entry.getValue());
                    if (item != entry.getValue() && copy == null) {
                        copy = new java.util.LinkedHashMap<>(map);
                    }
                    if (copy != null) {
                        copy.put(entry.getKey(), item);
                    }
                }
                return copy == null ? map : copy;
            }
            if (value instanceof java.util.List<?> list) {
                java.util.List<Object> copy = null;
                for (int i = 0; i < list.size(); i++) {
                    Object item = nonFiniteAsText(list.get(i));
                    if (item != list.get(i) && copy == null) {
                        copy = new java.util.ArrayList<>(list);
                    }
                    if (copy != null) {
                        copy.set(i, item);
                    }
                }
                return copy == null ? list : copy;
            }
            return value;
        }

        private static String rootMessage(Throwable e) {
            StringBuilder text = new StringBuilder();
            for (Throwable t = e; t != null && text.length() < 500; t = t.getCause() == t ? null : t.getCause()) {
                if (t.getMessage() != null && !text.toString().contains(t.getMessage())) {
                    text.append(text.length() == 0 ? "" : ": ").append(t.getMessage());
                }
            }
            return text.length() == 0 ? e.getClass().getName() : text.toString();
        }
    }

    /** A payload that does not fit the parameter's type. */
    static final class BindingException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        BindingException(String message) {
            super(message);
        }

        BindingException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
