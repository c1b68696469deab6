package dev.courier.internal;

import dev.courier.spi.Option;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * README's configuration tables (every table whose first column is {@code key}) and {@link CourierOptions} say the
 * same: every declared option is in README with its default, and every key README lists is declared.
 */
class ReadmeOptionsTest {

    private static final Pattern CODE = Pattern.compile("`([^`]+)`");

    /** A row of a README table: the key, its default cell, and its providers cell (empty where none). */
    record Row(String key, String defaultCell, String providersCell) {
    }

    static List<Row> readmeRows() throws IOException {
        List<Row> rows = new ArrayList<>();
        List<String> header = null;
        for (String line : Files.readAllLines(Path.of("README.md"))) {
            if (!line.startsWith("|")) {
                header = null;
                continue;
            }
            List<String> cells = cells(line);
            if (header == null) {
                header = cells;
                continue;
            }
            if (!header.get(0).equals("key") || cells.get(0).startsWith("---")) {
                continue;
            }
            int providers = header.indexOf("providers");
            for (String key : keys(cells.get(0))) {
                rows.add(new Row(key, cells.get(1), providers < 0 ? "" : cells.get(providers)));
            }
        }
        return rows;
    }

    private static List<String> cells(String line) {
        List<String> cells = new ArrayList<>();
        for (String cell : line.substring(1, line.lastIndexOf('|')).split("\\|")) {
            cells.add(cell.trim());
        }
        return cells;
    }

    /**
     * The keys a key cell names: {@code `brokers.<name>.a`, `b`} is {@code a} and {@code b} under the first key's
     * prefix, {@code `courier.subscribers.<group>.a`, `.b`} the same; what is in parentheses (another spelling) is
     * not a key of its own.
     */
    private static List<String> keys(String cell) {
        int paren = cell.indexOf('(');
        Matcher m = CODE.matcher(paren < 0 ? cell : cell.substring(0, paren));
        List<String> keys = new ArrayList<>();
        while (m.find()) {
            String span = m.group(1);
            if (keys.isEmpty()) {
                keys.add(span);
            } else {
                String prefix = keys.get(0).substring(0, keys.get(0).lastIndexOf('.'));
                keys.add(prefix + (span.startsWith(".") ? span : "." + span));
            }
        }
        return keys;
    }

    /** Every declared option by the key README writes, with the declarations of that key. */
    static Map<String, List<Option>> declared() {
        Map<String, List<Option>> keys = new LinkedHashMap<>();
        CourierOptions.BROKER.forEach(o -> keys.computeIfAbsent("brokers.<name>." + o.name(), k -> new ArrayList<>())
                .add(o));
        CourierOptions.COURIER.forEach(o -> keys.computeIfAbsent(CourierOptions.courierProperty(o),
                k -> new ArrayList<>()).add(o));
        return keys;
    }

    @Test
    void every_declared_option_is_in_readme_with_its_default() throws IOException {
        List<Row> rows = readmeRows();
        List<String> missing = new ArrayList<>();
        declared().forEach((key, options) -> {
            List<Row> documented = rows.stream().filter(r -> r.key().equals(key)).toList();
            if (documented.isEmpty()) {
                missing.add(key + " (not in README)");
            }
            for (Option option : options) {
                if (option.defaultValue() != null && !documented.isEmpty() && documented.stream()
                        .noneMatch(r -> r.defaultCell().contains("`" + option.defaultValue() + "`"))) {
                    missing.add(key + " (README does not give its default `" + option.defaultValue() + "`"
                            + (option.providers().isEmpty() ? "" : " for " + new TreeSet<>(option.providers())) + ")");
                }
            }
        });
        assertEquals(List.of(), missing, "declared in CourierOptions, missing from README's configuration tables");
    }

    @Test
    void every_option_readme_lists_is_declared() throws IOException {
        Set<String> undeclared = new LinkedHashSet<>();
        for (Row row : readmeRows()) {
            if (!declared().containsKey(row.key())) {
                undeclared.add(row.key());
            }
        }
        assertEquals(Set.of(), undeclared, "in README's configuration tables, not declared in CourierOptions");
    }

    @Test
    void the_providers_readme_names_for_an_option_take_it() throws IOException {
        List<String> wrong = new ArrayList<>();
        for (Row row : readmeRows()) {
            Set<String> named = new TreeSet<>();
            if (row.providersCell().equals("both")) {
                named.addAll(List.of("redis", "redis_pubsub"));
            }
            Matcher m = CODE.matcher(row.providersCell());
            while (m.find()) {
                named.add(m.group(1));
            }
            Set<String> taking = new TreeSet<>();
            declared().getOrDefault(row.key(), List.of()).forEach(o -> taking.addAll(o.providers()));
            if (!taking.containsAll(named)) {
                wrong.add(row.key() + ": README names " + named + ", declared for " + taking);
            }
        }
        assertEquals(List.of(), wrong);
    }

    @Test
    void the_readme_parser_finds_every_table() throws IOException {
        // So that the tests above cannot pass on a README whose tables were not read.
        Set<String> prefixes = new TreeSet<>();
        readmeRows().forEach(r -> prefixes.add(r.key().substring(0, r.key().indexOf('.', r.key().indexOf('.') + 1)
                + 1)));
        assertTrue(prefixes.containsAll(List.of("brokers.<name>.", "courier.engine.", "courier.subscribers.",
                "courier.health.", "courier.se.")), prefixes.toString());
    }

    @Test
    void every_declared_default_and_bound_is_a_value_of_its_kind() {
        Options none = new Options("courier.", Map.of());
        for (Option option : declared().values().stream().flatMap(List::stream).toList()) {
            if (option.defaultValue() == null) {
                continue;
            }
            switch (option.kind()) {
                case INT -> none.getInt(option);
                case DECIMAL -> none.getDouble(option);
                case BOOLEAN -> assertTrue(option.defaultValue().matches("true|false"), option.name());
                case DURATION -> none.getDuration(option);
                case SIZE -> none.getSize(option);
                case TEXT -> { }
            }
        }
    }
}
