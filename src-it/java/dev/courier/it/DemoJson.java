package dev.courier.it;

import jakarta.json.bind.Jsonb;
import jakarta.json.bind.JsonbBuilder;

/** The demo's JSON answers, read as maps and lists. */
final class DemoJson {

    private static final Jsonb JSON = JsonbBuilder.create();

    private DemoJson() {
    }

    static Object parse(String json) {
        return JSON.fromJson(json, Object.class);
    }
}
