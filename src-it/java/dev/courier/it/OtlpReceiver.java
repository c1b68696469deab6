package dev.courier.it;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.zip.GZIPInputStream;

/**
 * An OTLP/HTTP receiver for one test: {@code POST /v1/traces} and {@code /v1/metrics} in protobuf, as the Java
 * exporter sends them (it has no JSON), decoded from the wire format for the few fields a test reads, so that no
 * protobuf library is needed. Answers 200 with an empty response message.
 */
final class OtlpReceiver implements AutoCloseable {

    /** A span as received. */
    record Span(String traceId, String spanId, String parentSpanId, String name, int kind,
                Map<String, Object> attributes) {
        static final int SERVER = 2;
        static final int PRODUCER = 4;
        static final int CONSUMER = 5;
    }

    /** A data point of a sum or gauge, as received. */
    record Point(String metric, long value, Map<String, Object> attributes) {
    }

    private final HttpServer server;
    final List<Span> spans = new CopyOnWriteArrayList<>();
    final List<Point> points = new CopyOnWriteArrayList<>();
    final List<String> metricNames = new CopyOnWriteArrayList<>();

    OtlpReceiver() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v1/traces", exchange -> {
            traces(body(exchange.getRequestBody(), exchange.getRequestHeaders().getFirst("Content-Encoding")));
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        server.createContext("/v1/metrics", exchange -> {
            metrics(body(exchange.getRequestBody(), exchange.getRequestHeaders().getFirst("Content-Encoding")));
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        server.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    private static byte[] body(InputStream in, String encoding) throws IOException {
        byte[] bytes = in.readAllBytes();
        return "gzip".equalsIgnoreCase(encoding) ? new GZIPInputStream(new java.io.ByteArrayInputStream(bytes))
                .readAllBytes() : bytes;
    }

    // ExportTraceServiceRequest: 1 resource_spans { 2 scope_spans { 2 spans } }
    private void traces(byte[] request) {
        for (byte[] resource : Fields.of(request).bytes(1)) {
            for (byte[] scope : Fields.of(resource).bytes(2)) {
                for (byte[] raw : Fields.of(scope).bytes(2)) {
                    Fields span = Fields.of(raw);
                    spans.add(new Span(hex(span.first(1)), hex(span.first(2)), hex(span.first(4)),
                            text(span.first(5)), (int) span.varint(6), attributes(span.bytes(9))));
                }
            }
        }
    }

    // ExportMetricsServiceRequest: 1 resource_metrics { 2 scope_metrics { 2 metrics { 1 name, 5 gauge, 7 sum } } }
    private void metrics(byte[] request) {
        for (byte[] resource : Fields.of(request).bytes(1)) {
            for (byte[] scope : Fields.of(resource).bytes(2)) {
                for (byte[] raw : Fields.of(scope).bytes(2)) {
                    Fields metric = Fields.of(raw);
                    String name = text(metric.first(1));
                    metricNames.add(name);
                    List<byte[]> data = new ArrayList<>(metric.bytes(5));
                    data.addAll(metric.bytes(7));
                    for (byte[] sumOrGauge : data) {
                        // NumberDataPoint: 6 as_int (sfixed64), 7 attributes
                        for (byte[] p : Fields.of(sumOrGauge).bytes(1)) {
                            Fields point = Fields.of(p);
                            points.add(new Point(name, point.fixed(6), attributes(point.bytes(7))));
                        }
                    }
                }
            }
        }
    }

    /** KeyValue: 1 key, 2 AnyValue { 1 string, 2 bool, 3 int }. */
    private static Map<String, Object> attributes(List<byte[]> keyValues) {
        Map<String, Object> attributes = new LinkedHashMap<>();
        for (byte[] raw : keyValues) {
            Fields kv = Fields.of(raw);
            Fields value = Fields.of(kv.first(2));
            Object v = value.first(1) != null ? text(value.first(1)) : value.has(3) ? value.varint(3)
                    : value.has(2) ? value.varint(2) == 1 : null;
            attributes.put(text(kv.first(1)), v);
        }
        return attributes;
    }

    private static String hex(byte[] bytes) {
        return bytes == null ? "" : HexFormat.of().formatHex(bytes);
    }

    private static String text(byte[] bytes) {
        return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        server.stop(0);
    }

    /** One protobuf message's fields: by number, each value a Long (varint, fixed) or byte[] (length-delimited). */
    private static final class Fields {
        private final Map<Integer, List<Object>> values = new LinkedHashMap<>();

        static Fields of(byte[] message) {
            Fields fields = new Fields();
            if (message == null) {
                return fields;
            }
            ByteBuffer in = ByteBuffer.wrap(message).order(ByteOrder.LITTLE_ENDIAN);
            while (in.hasRemaining()) {
                long tag = varint(in);
                int number = (int) (tag >>> 3);
                Object value = switch ((int) (tag & 7)) {
                    case 0 -> varint(in);
                    case 1 -> in.getLong();
                    case 2 -> {
                        byte[] bytes = new byte[(int) varint(in)];
                        in.get(bytes);
                        yield bytes;
                    }
                    case 5 -> (long) in.getInt();
                    default -> throw new IllegalArgumentException("wire type " + (tag & 7));
                };
                fields.values.computeIfAbsent(number, k -> new ArrayList<>()).add(value);
            }
            return fields;
        }

        private static long varint(ByteBuffer in) {
            long result = 0;
            for (int shift = 0; ; shift += 7) {
                byte b = in.get();
                result |= (long) (b & 0x7f) << shift;
                if ((b & 0x80) == 0) {
                    return result;
                }
            }
        }

        boolean has(int number) {
            return values.containsKey(number);
        }

        List<byte[]> bytes(int number) {
            return values.getOrDefault(number, List.of()).stream().filter(byte[].class::isInstance)
                    .map(byte[].class::cast).toList();
        }

        byte[] first(int number) {
            List<byte[]> all = bytes(number);
            return all.isEmpty() ? null : all.get(0);
        }

        long varint(int number) {
            List<Object> all = values.getOrDefault(number, List.of());
            return all.isEmpty() ? 0 : (Long) all.get(0);
        }

        long fixed(int number) {
            return varint(number);
        }
    }
}
