// What a user writes: a Map (N images -> M images, with a stable margin) or a
// Reduce (N images -> one value), as pure tile functions plus a declared
// footprint. A filter knows nothing about threads or the graph.
#ifndef EOSCALE_GRAPH_FILTER_H_
#define EOSCALE_GRAPH_FILTER_H_

#include <any>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "eoscale/core/profile.h"
#include "eoscale/core/tiling.h"
#include "eoscale/core/view.h"

namespace eoscale {

// What a Map function sees for one tile.
//  - inputs[i] covers tile.Expanded(): the stable window plus the margin
//    available on each side (clamped at the image border, as in EOScale).
//    Inputs are read-only: EOScale's "in-place update of an input corrupts
//    the overlap" cannot be written.
//  - outputs[j] covers tile.window, the stable window only; the function
//    must write every pixel of it. Output buffers are not zeroed.
struct MapTile {
  Tile tile;
  absl::Span<const ConstView> inputs;
  absl::Span<const Profile> input_profiles;
  absl::Span<const View> outputs;
  absl::Span<const Profile> output_profiles;

  // Offset of the stable window inside the input views.
  int StableX() const { return tile.left; }
  int StableY() const { return tile.top; }
};

using MapFunction = std::function<absl::Status(const MapTile&)>;
// Derives the output profiles from the input profiles (EOScale's
// generate_output_profiles). Parameters are captured by the closure.
using ProfileFunction = std::function<absl::StatusOr<std::vector<Profile>>(absl::Span<const Profile>)>;

struct MapFilter {
  std::string name = "map";
  // Pixels of neighbourhood the function reads around each tile. >= 0.
  int margin = 0;
  // The output profiles. When empty, the outputs copy the input profiles
  // (EOScale's default). Every output has the inputs' width and height.
  ProfileFunction profiles;
  // Number of outputs the function writes; -1 means "as many as profiles".
  // When set, a profile function returning another count is an error
  // (EOScale's "size mismatch").
  int num_outputs = -1;
  MapFunction fn;
  // Inputs must share one grid (Profile::SameGrid: same size, geotransform
  // and CRS). Set to combine inputs of the same size on purpose whatever
  // their georeferencing (the outputs take the first input's).
  bool allow_misaligned_inputs = false;
};

// What a Reduce map function sees for one tile (no margin).
struct ReduceTile {
  Tile tile;
  absl::Span<const ConstView> inputs;
  absl::Span<const Profile> input_profiles;
};

// N images -> one value of type V. `map` turns one tile into a partial value;
// `combine` folds two partial values; partial values are folded in tile
// order (raster order), whatever the completion order, so that the result
// is the same for every worker count: combine(...combine(p0, p1)..., pn).
// `combine` must be associative for the result not to depend on the tiling.
template <typename V>
struct ReduceFilter {
  std::string name = "reduce";
  std::function<absl::StatusOr<V>(const ReduceTile&)> map;
  std::function<V(V, V)> combine;
  bool allow_misaligned_inputs = false;  // as MapFilter's
};

}  // namespace eoscale

#endif  // EOSCALE_GRAPH_FILTER_H_
