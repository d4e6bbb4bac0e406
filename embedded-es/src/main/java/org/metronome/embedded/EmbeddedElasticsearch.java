package org.metronome.embedded;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

/**
 * Runs one genuine Elasticsearch node in this JVM, bound to 127.0.0.1.
 *
 * <p>The server jars sit on the module path (as in Elasticsearch's own distribution), the
 * netty HTTP/transport layer is loaded from {@code <home>/modules/transport-netty4} by
 * Elasticsearch's own plugin loader, and so is Metronome's {@code metronome-root} module, which
 * answers {@code GET /} (the distribution's own module for it is not on Maven Central). The official launcher is not used because it refuses
 * to run as root, which is how CI runs here. SIGTERM closes the node cleanly.
 *
 * <p>Usage: {@code --home DIR --data DIR --logs DIR --http-port N [--transport-port N]
 * [--cluster-name NAME] [--setting key=value]...}
 */
public final class EmbeddedElasticsearch {
    private EmbeddedElasticsearch() {}

    public static void main(String[] args) throws Exception {
        // What the distribution's launcher passes: the home is laid out as the tar archive's
        // (lib/, modules/, config/), so `GET /` reports build_type "tar" as such a node does.
        System.setProperty("es.distribution.type", "tar");
        Map<String, String> options = new HashMap<>();
        Settings.Builder extra = Settings.builder();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (args[i].equals("--setting")) {
                String[] kv = args[i + 1].split("=", 2);
                extra.put(kv[0], kv.length > 1 ? kv[1] : "");
            } else {
                options.put(args[i], args[i + 1]);
            }
        }
        Path home = Path.of(require(options, "--home")).toAbsolutePath();
        Path data = Path.of(require(options, "--data")).toAbsolutePath();
        Path logs = Path.of(require(options, "--logs")).toAbsolutePath();
        int httpPort = Integer.parseInt(require(options, "--http-port"));
        int transportPort = Integer.parseInt(options.getOrDefault("--transport-port", "0"));
        Files.createDirectories(data);
        Files.createDirectories(logs);

        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", data.toString())
            .put("path.logs", logs.toString())
            .put("cluster.name", options.getOrDefault("--cluster-name", "metronome"))
            .put("node.name", "metronome-embedded")
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            .put("discovery.type", "single-node")
            // A laptop disk at 90 % must not turn the indices read-only.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("logger.level", "WARN")
            .put(extra.build())
            .build();

        LogConfigurator.configureESLogging();
        LogConfigurator.configureWithoutConfig(settings);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), home.resolve("config"), () -> "metronome-embedded");
        // The modules (netty, the root endpoint) and plugins, loaded as Elasticsearch's own
        // bootstrap loads them; no plugin asks for native access or extra entitlements.
        PluginsLoader plugins = PluginsLoader.createPluginsLoader(
            PluginsLoader.loadModulesBundles(environment.modulesDir()),
            PluginsLoader.loadPluginsBundles(environment.pluginsDir()),
            Map.of());
        Node node = new Node(environment, plugins);

        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "metronome-embedded-shutdown"));
        node.start();
        System.out.println("metronome-embedded-elasticsearch started on http://127.0.0.1:" + httpPort);
        System.out.flush();
        closed.await();
    }

    private static String require(Map<String, String> options, String name) {
        String value = options.get(name);
        if (value == null) {
            System.err.println("missing option " + name);
            System.exit(2);
        }
        return value;
    }
}
