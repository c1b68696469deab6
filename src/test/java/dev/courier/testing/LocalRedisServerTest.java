package dev.courier.testing;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every redis-server a test starts ends: after its class, and when the JVM that started it is killed. */
class LocalRedisServerTest {

    private static long nestedPid = -1;
    private static Path nestedDir;

    @Test
    void a_server_ends_and_its_folder_goes_when_the_jvm_that_started_it_is_killed() throws Exception {
        Process owner = RedisServerProcess.start("plain", Map.of());
        try {
            String line = new BufferedReader(new InputStreamReader(owner.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            assertNotNull(line, "the JVM died before its server was ready");
            String[] words = line.split(" ");
            long pid = Long.parseLong(words[1]);
            Path dir = Path.of(words[3]);
            assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));

            owner.destroyForcibly(); // SIGKILL: nothing of the JVM runs any more
            assertTrue(owner.waitFor(30, TimeUnit.SECONDS));

            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                    .until(() -> !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)
                            && !Files.exists(dir));
        } finally {
            owner.destroyForcibly();
        }
    }

    /** A test's child JVM sees end of file on its standard input when the test JVM dies: it ends, and its server. */
    @Test
    void a_child_jvm_ends_with_its_parent_and_takes_its_server_with_it() throws Exception {
        Process child = RedisServerProcess.start("plain", Map.of());
        try {
            String line = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            assertNotNull(line, "the JVM died before its server was ready");
            long pid = Long.parseLong(line.split(" ")[1]);

            child.getOutputStream().close(); // what the death of this JVM would do to the pipe

            assertTrue(child.waitFor(30, TimeUnit.SECONDS), "the child JVM outlived its parent's end");
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                    .until(() -> !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
        } finally {
            child.destroyForcibly();
        }
    }

    @AfterAll
    static void theServerOfAWithRedisClassEndedAfterIt() {
        assertTrue(nestedPid > 0, "the nested class did not run");
        assertFalse(ProcessHandle.of(nestedPid).map(ProcessHandle::isAlive).orElse(false),
                "redis-server " + nestedPid + " still runs after its class");
        assertFalse(Files.exists(nestedDir), nestedDir + " is left");
    }

    @Nested
    @WithRedis(controllable = true)
    class AClassWithRedis {

        @Test
        void has_a_running_server(RedisServer redis) {
            nestedPid = ((LocalRedisServer) redis).pid();
            nestedDir = redis.dir();
            assertTrue(ProcessHandle.of(nestedPid).map(ProcessHandle::isAlive).orElse(false));
        }
    }
}
