// Context::ToDot and friends: the logical graph in Graphviz DOT.
#include <algorithm>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eoscale/graph/context.h"
#include "eoscale/graph/graph_state.h"
#include "eoscale/graph/report.h"

namespace eoscale {
namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

double MiB(int64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

}  // namespace

std::string Context::ToDot() const {
  using internal::Node;
  using internal::SinkRequest;
  const internal::GraphState& g = *state_;
  const RunStats& s = g.last_stats;
  // Figures of the last run, by logical node and by sink name.
  std::map<int, const NodeStats*> by_node;
  std::map<std::string, const NodeStats*> by_sink;
  for (const NodeStats& n : s.nodes) {
    if (n.node_id >= 0) {
      by_node[n.node_id] = &n;
    } else {
      by_sink[n.name] = &n;
    }
  }
  const bool ran = !s.nodes.empty();
  const std::vector<SinkRequest>& sinks = ran ? g.last_sinks : g.pending;
  const int n = static_cast<int>(g.nodes.size());
  // Critical path: the chain of dependent nodes with the most busy time.
  // Vertices 0..n-1 are logical nodes, n.. are file/memory sinks.
  std::vector<double> weight(n + sinks.size(), 0.0);
  std::vector<std::vector<int>> preds(n + sinks.size());
  for (int i = 0; i < n; ++i) {
    if (auto it = by_node.find(i); it != by_node.end()) weight[i] = it->second->busy_seconds;
    for (const internal::Port& p : g.nodes[i]->inputs) preds[i].push_back(p.node);
  }
  std::vector<std::string> sink_names(sinks.size());
  for (size_t k = 0; k < sinks.size(); ++k) {
    const SinkRequest& r = sinks[k];
    if (r.kind == SinkRequest::Kind::kReduce) continue;
    sink_names[k] = r.Describe();
    if (auto it = by_sink.find(sink_names[k]); it != by_sink.end()) weight[n + k] = it->second->busy_seconds;
    preds[n + k].push_back(r.port.node);
  }
  std::vector<double> best(weight.size(), 0.0);
  std::vector<int> from(weight.size(), -1);
  for (size_t v = 0; v < weight.size(); ++v) {  // ids are topological; sinks come last
    double b = 0;
    for (int p : preds[v]) {
      if (best[p] > b) {
        b = best[p];
        from[v] = p;
      }
    }
    best[v] = b + weight[v];
  }
  std::vector<bool> critical(weight.size(), false);
  if (ran) {
    int v = static_cast<int>(std::max_element(best.begin(), best.end()) - best.begin());
    while (v >= 0 && best[v] > 0) {
      critical[v] = true;
      v = from[v];
    }
  }
  auto on_path = [&](int a, int b) { return critical[a] && critical[b] && from[b] == a; };

  std::string out = "digraph eoscale {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  if (ran) {
    // A distributed run: on rank 0, the job's figures (run_stats.h).
    const std::string ranks = !s.per_rank.empty() ? absl::StrCat(s.ranks, " ranks x ")
                              : s.ranks > 1       ? absl::StrCat("rank ", s.rank, " of ", s.ranks, ", ")
                                                  : "";
    out += absl::StrFormat(
        "  label=\"run: %.3f s, %s%d workers, %lld tiles of %dx%d, peak live %.2f MiB (budget %.1f MiB), peak RSS "
        "%.1f MiB%s\";\n",
        s.wall_seconds, ranks, s.workers, static_cast<long long>(s.tiles), s.tile_width, s.tile_height,
        MiB(s.peak_live_bytes), MiB(s.budget_bytes), MiB(s.peak_rss_bytes),
        s.per_rank.empty() ? "" : " (the largest rank's)");
  }
  for (int i = 0; i < n; ++i) {
    const Node& node = *g.nodes[i];
    std::string label = absl::StrCat(Escape(node.name), "\\n#", i);
    if (node.AsMap() != nullptr) absl::StrAppend(&label, "  margin ", node.AsMap()->margin);
    for (const Profile& p : node.outputs) absl::StrAppend(&label, "\\n", DescribeProfile(p));
    if (auto it = by_node.find(i); it != by_node.end()) {
      const NodeStats& st = *it->second;
      absl::StrAppend(&label, absl::StrFormat("\\n%lld tiles, busy %.1f ms\\nproduced %.1f MiB, live at peak %.2f MiB",
                                              static_cast<long long>(st.tiles), st.busy_seconds * 1e3,
                                              MiB(st.bytes_produced), MiB(st.live_at_peak)));
      if (st.grown_by > 0) absl::StrAppend(&label, "\\ntiles grown by ", st.grown_by, " px");
    }
    const char* shape = node.AsSource() ? "ellipse" : node.AsReduce() ? "hexagon" : "box";
    out += absl::StrFormat("  n%d [label=\"%s\", shape=%s%s];\n", i, label, shape,
                           critical[i] ? ", color=red, penwidth=2" : "");
  }
  for (size_t k = 0; k < sinks.size(); ++k) {
    if (sinks[k].kind == SinkRequest::Kind::kReduce) continue;
    std::string label = Escape(sink_names[k]);
    if (auto it = by_sink.find(sink_names[k]); it != by_sink.end()) {
      absl::StrAppend(&label, absl::StrFormat("\\n%lld tiles, busy %.1f ms", static_cast<long long>(it->second->tiles),
                                              it->second->busy_seconds * 1e3));
    }
    out += absl::StrFormat("  s%d [label=\"%s\", shape=note%s];\n", static_cast<int>(k), label,
                           critical[n + k] ? ", color=red, penwidth=2" : "");
  }
  for (int i = 0; i < n; ++i) {
    const Node& node = *g.nodes[i];
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      const internal::Port& p = node.inputs[j];
      std::string label = g.nodes[p.node]->outputs.size() > 1 ? absl::StrCat("out ", p.output) : "";
      out += absl::StrFormat("  n%d -> n%d [label=\"%s\"%s];\n", p.node, i, label,
                             on_path(p.node, i) ? ", color=red, penwidth=2" : "");
    }
  }
  for (size_t k = 0; k < sinks.size(); ++k) {
    if (sinks[k].kind == SinkRequest::Kind::kReduce) continue;
    const internal::Port& p = sinks[k].port;
    std::string label = g.nodes[p.node]->outputs.size() > 1 ? absl::StrCat("out ", p.output) : "";
    out += absl::StrFormat("  n%d -> s%d [label=\"%s\"%s];\n", p.node, static_cast<int>(k), label,
                           on_path(p.node, n + static_cast<int>(k)) ? ", color=red, penwidth=2" : "");
  }
  out += "}\n";
  return out;
}

absl::Status Context::WriteDot(const std::string& path) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return absl::PermissionDeniedError(absl::StrCat("cannot write DOT file '", path, "'"));
  f << ToDot();
  f.close();
  if (!f) return absl::DataLossError(absl::StrCat("writing DOT file '", path, "' failed"));
  return absl::OkStatus();
}

absl::Status Context::WriteTrace(const std::string& path) const {
  if (!state_->options.trace) {
    return absl::FailedPreconditionError("no trace: set ContextOptions::trace before running");
  }
  return WriteChromeTrace(state_->last_stats, path);
}

}  // namespace eoscale
