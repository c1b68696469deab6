package dev.courier.examples.starter;

import jakarta.ws.rs.ApplicationPath;
import jakarta.ws.rs.core.Application;

/** The REST resources live under {@code /api}. */
@ApplicationPath("/api")
public class StarterApplication extends Application {
}
