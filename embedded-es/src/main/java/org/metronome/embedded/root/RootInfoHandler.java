package org.metronome.embedded.root;

import java.util.List;
import java.util.function.Supplier;

import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.IndexVersion;
import org.elasticsearch.node.Node;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

/**
 * Answers {@code GET /} (and {@code HEAD /}, same status without a body) with the node's name,
 * its cluster's name and UUID, the build it runs and the tagline: the members and types every 8.x
 * node answers with. {@code X-elastic-product} is added to every answer by Elasticsearch's
 * REST controller itself; {@code ?pretty}, {@code filter_path} and the requested content type
 * are honoured through the channel's builder.
 */
final class RootInfoHandler extends BaseRestHandler {
    static final String TAGLINE = "You Know, for Search";

    private final String nodeName;
    private final Supplier<ClusterService> clusterService;

    RootInfoHandler(Settings settings, Supplier<ClusterService> clusterService) {
        this.nodeName = Node.NODE_NAME_SETTING.get(settings);
        this.clusterService = clusterService;
    }

    @Override
    public String getName() {
        return "metronome_root_info_action";
    }

    @Override
    public List<Route> routes() {
        return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
        ClusterService cluster = clusterService.get();
        String clusterName = cluster.getClusterName().value();
        String clusterUuid = cluster.state().metadata().clusterUUID();
        return channel -> {
            XContentBuilder body = channel.newBuilder();
            write(body, clusterName, clusterUuid);
            channel.sendResponse(new RestResponse(RestStatus.OK, body));
        };
    }

    private void write(XContentBuilder body, String clusterName, String clusterUuid) throws java.io.IOException {
        Build build = Build.current();
        body.startObject();
        body.field("name", nodeName);
        body.field("cluster_name", clusterName);
        body.field("cluster_uuid", clusterUuid);
        body.startObject("version");
        body.field("number", build.qualifiedVersion());
        body.field("build_flavor", build.flavor());
        body.field("build_type", build.type().displayName());
        body.field("build_hash", build.hash());
        body.field("build_date", build.date());
        body.field("build_snapshot", build.isSnapshot());
        body.field("lucene_version", IndexVersion.current().luceneVersion().toString());
        body.field("minimum_wire_compatibility_version", build.minWireCompatVersion());
        body.field("minimum_index_compatibility_version", build.minIndexCompatVersion());
        body.endObject();
        body.field("tagline", TAGLINE);
        body.endObject();
    }
}
