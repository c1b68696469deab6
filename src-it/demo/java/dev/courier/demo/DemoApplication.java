package dev.courier.demo;

import jakarta.ws.rs.ApplicationPath;
import jakarta.ws.rs.core.Application;

/** The demo's REST resources live under {@code /api}. */
@ApplicationPath("/api")
public class DemoApplication extends Application {
}
