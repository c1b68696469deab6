package dev.courier.internal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which texts Courier takes as a W3C traceparent: version 00, lower-case hex, in its four parts. */
class TraceparentTest {

    private static final String VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    @Test
    void a_version_00_traceparent_in_lower_case_hex_is_one() {
        assertTrue(ProteanEnvelope.isTraceparent(VALID));
        assertTrue(ProteanEnvelope.isTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"));
    }

    @Test
    void anything_else_is_not() {
        assertFalse(ProteanEnvelope.isTraceparent(null));
        assertFalse(ProteanEnvelope.isTraceparent(""));
        assertFalse(ProteanEnvelope.isTraceparent(VALID + "-"), "too long");
        assertFalse(ProteanEnvelope.isTraceparent(VALID.substring(1)), "too short");
        assertFalse(ProteanEnvelope.isTraceparent("01" + VALID.substring(2)), "another version");
        assertFalse(ProteanEnvelope.isTraceparent(VALID.toUpperCase()), "upper case");
        for (int dash : new int[] {2, 35, 52}) {
            assertFalse(ProteanEnvelope.isTraceparent(VALID.substring(0, dash) + "0" + VALID.substring(dash + 1)),
                    "no dash at " + dash);
        }
        for (int i = 3; i < VALID.length(); i++) {
            if (VALID.charAt(i) != '-') {
                for (char odd : new char[] {'g', 'G', 'A', ' ', '/', ':', '`', '-'}) {
                    assertFalse(ProteanEnvelope.isTraceparent(VALID.substring(0, i) + odd + VALID.substring(i + 1)),
                            "'" + odd + "' at " + i);
                }
            }
        }
    }
}
