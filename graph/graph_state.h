// Internal: the logical graph a Context builds, and the engine entry point.
// Not part of the public API.
#ifndef EOSCALE_GRAPH_GRAPH_STATE_H_
#define EOSCALE_GRAPH_GRAPH_STATE_H_

#include <any>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "eoscale/core/array.h"
#include "eoscale/core/buffer_pool.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/graph/context.h"

namespace eoscale::internal {

enum class NodeKind { kFileSource, kMemorySource, kConstantSource, kMap, kReduce };

struct Port {
  int node = -1;
  int output = 0;
  friend bool operator==(const Port&, const Port&) = default;
};

using ReduceMapFn = std::function<absl::StatusOr<std::any>(const ReduceTile&)>;
using ReduceCombineFn = std::function<std::any(std::any, std::any)>;

struct Node {
  int id = -1;
  NodeKind kind = NodeKind::kMap;
  std::string name;
  std::vector<Port> inputs;
  std::vector<Profile> outputs;   // output profiles (one for sources)
  std::vector<bool> released;     // per output
  int margin = 0;
  // Sources.
  std::shared_ptr<RasterSource> file;
  std::shared_ptr<const Array> array;  // memory source that owns its pixels
  const void* memory = nullptr;        // memory source pixels (owned or wrapped)
  double constant = 0;
  // Map.
  MapFunction fn;
  // Reduce.
  ReduceMapFn reduce_map;
  ReduceCombineFn reduce_combine;
  bool reduce_done = false;
  std::any reduce_value;

  bool is_source() const {
    return kind == NodeKind::kFileSource || kind == NodeKind::kMemorySource ||
           kind == NodeKind::kConstantSource;
  }
};

// What a run must produce.
struct SinkRequest {
  enum class Kind { kFile, kMemory, kReduce } kind = Kind::kFile;
  Port port;                          // image written or materialised
  std::string path;                   // kFile
  std::vector<std::string> options;   // kFile
  Array* array = nullptr;             // kMemory: REQUIRES allocated for the image's profile
  int reduce_node = -1;               // kReduce
};

class GraphState {
 public:
  explicit GraphState(ContextOptions options);

  ContextOptions options;
  std::vector<Node> nodes;
  std::vector<SinkRequest> pending;
  std::vector<SinkRequest> last_sinks;  // the last run's sinks (for DOT), arrays cleared
  RunStats last_stats;
  BufferPool pool{0};

  // Ok when `image` belongs to this graph and was not released.
  absl::Status CheckImage(const Image& image, absl::string_view use) const;
  const Profile& ProfileOf(const Port& p) const { return nodes[p.node].outputs[p.output]; }
  Port PortOf(const Image& image) const { return {image.node_, image.output_}; }
  Image MakeImage(const std::shared_ptr<GraphState>& self, int node, int output) const {
    return Image(self, node, output);
  }

  // Runs the requests in one streaming pass (the engine, engine.cc).
  absl::Status Execute(std::vector<SinkRequest> sinks);
  // Runs what reduction `node` needs, if it has not run yet.
  absl::StatusOr<std::any> GetReduction(int node);
};

}  // namespace eoscale::internal

#endif  // EOSCALE_GRAPH_GRAPH_STATE_H_
