package dev.courier.health;

import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;

import java.util.Map;

/** A {@link HealthReport} as MicroProfile Health's response. */
final class Responses {

    private Responses() {
    }

    static HealthCheckResponse of(HealthReport report) {
        HealthCheckResponseBuilder response = HealthCheckResponse.named(report.name()).status(report.up());
        for (Map.Entry<String, Object> entry : report.data().entrySet()) {
            Object value = entry.getValue();
            if (value instanceof Long number) {
                response.withData(entry.getKey(), number);
            } else if (value instanceof Boolean flag) {
                response.withData(entry.getKey(), flag);
            } else {
                response.withData(entry.getKey(), String.valueOf(value));
            }
        }
        return response.build();
    }
}
