// Internal: the logical graph a Context builds (one node per source, filter
// call and reduction; what the run must produce), and the engine's entry
// point. Not part of the public API.
//
// Node kinds are types: SourceNode reads any RasterSource, MapNode runs a
// MapFunction with a margin, ReduceNode folds a value. Ids are positions in
// GraphState::nodes and are topological (a node's inputs come before it).
#ifndef EOSCALE_GRAPH_GRAPH_STATE_H_
#define EOSCALE_GRAPH_GRAPH_STATE_H_

#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "eoscale/core/array.h"
#include "eoscale/core/buffer_pool.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/graph/context.h"

namespace eoscale::internal {

struct Port {
  int node = -1;
  int output = 0;
  friend bool operator==(const Port&, const Port&) = default;
};

class SourceNode;
class MapNode;
class ReduceNode;

class Node {
 public:
  virtual ~Node() = default;
  int id = -1;
  std::string name;
  std::vector<Port> inputs;
  std::vector<Profile> outputs;  // output profiles (none for a reduction)
  std::vector<bool> released;    // per output

  // "'ndwi' (node 3)", for messages.
  std::string Label() const;
  virtual const SourceNode* AsSource() const { return nullptr; }
  virtual const MapNode* AsMap() const { return nullptr; }
  virtual ReduceNode* AsReduce() { return nullptr; }
  const ReduceNode* AsReduce() const { return const_cast<Node*>(this)->AsReduce(); }
};

class SourceNode final : public Node {
 public:
  // Shared: a RasterSource may feed several contexts' graphs.
  std::shared_ptr<RasterSource> source;
  // In-memory sources whose pixels Release may drop (FromArray).
  std::function<void()> drop;
  bool dropped = false;
  const SourceNode* AsSource() const override { return this; }
};

class MapNode final : public Node {
 public:
  int margin = 0;
  MapFunction fn;
  std::function<int64_t(absl::Span<const Profile>, int, int)> scratch_bytes;  // MapFilter::scratch_bytes
  const MapNode* AsMap() const override { return this; }
};

using ReduceMapFn = std::function<absl::StatusOr<std::any>(const ReduceTile&)>;
using ReduceCombineFn = std::function<std::any(std::any, std::any)>;

class ReduceNode final : public Node {
 public:
  ReduceMapFn map;
  ReduceCombineFn combine;
  // Distributed runs: the value across ranks (null: it cannot cross).
  std::function<std::string(const std::any&)> serialize;
  std::function<absl::StatusOr<std::any>(const std::string&)> deserialize;
  bool done = false;
  std::any value;
  // Distributed runs: this rank's partials, in tile order, folded across
  // ranks after the run (distributed_run.cc).
  std::vector<std::any> partials;
  ReduceNode* AsReduce() override { return this; }
};

// What a run must produce: a file (or user sink), an image in memory, or a
// reduction's value.
struct SinkRequest {
  enum class Kind { kFile, kUserSink, kMemory, kReduce } kind = Kind::kFile;
  Port port;                          // image written or materialised
  std::optional<Window> window;       // region run: only this window of the image
  std::string path;                   // kFile
  std::vector<std::string> options;   // kFile: creation options
  bool durable = true;                // kFile: WriteOptions::durable
  std::shared_ptr<RasterSink> sink;   // kUserSink
  Array* array = nullptr;             // kMemory: REQUIRES allocated for the window's profile
  int reduce_node = -1;               // kReduce

  // "write out.tif", "read into memory", for figures and the DOT graph.
  std::string Describe() const;
  // The region of the image this request needs (the whole image by default).
  Window Region(const Profile& image) const {
    return window ? *window : Window{0, 0, image.width, image.height};
  }
};

class GraphState {
 public:
  explicit GraphState(ContextOptions options);

  ContextOptions options;
  std::shared_ptr<RasterFormat> format;  // options.format or GDAL's
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<SinkRequest> pending;
  std::vector<SinkRequest> last_sinks;  // the last run's sinks (for DOT), arrays cleared
  RunStats last_stats;
  BufferPool pool{0};

  // Ok when `image` belongs to this graph and was not released.
  absl::Status CheckImage(const Image& image, absl::string_view use) const;
  const Profile& ProfileOf(const Port& p) const { return nodes[p.node]->outputs[p.output]; }
  Port PortOf(const Image& image) const { return {image.node_, image.output_}; }
  int AddNode(std::unique_ptr<Node> n);

  // Runs the requests in one streaming pass (the engine: execute.cc).
  absl::Status Execute(std::vector<SinkRequest> sinks);
  // Runs what reduction `node` needs, if it has not run yet.
  absl::StatusOr<std::any> GetReduction(int node);
};

}  // namespace eoscale::internal

#endif  // EOSCALE_GRAPH_GRAPH_STATE_H_
