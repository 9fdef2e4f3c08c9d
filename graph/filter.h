// What a user writes: a Map (N images -> M images, with a stable margin) or a
// Reduce (N images -> one value), as pure tile functions plus a declared
// footprint. A filter knows nothing about threads or the graph.
#ifndef EOSCALE_GRAPH_FILTER_H_
#define EOSCALE_GRAPH_FILTER_H_

#include <any>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "eoscale/core/profile.h"
#include "eoscale/core/tiling.h"
#include "eoscale/core/view.h"
#include "eoscale/graph/scratch.h"

namespace eoscale {

namespace internal {
// Which list of a tile a TileSpan is: names it in out-of-range errors.
enum class TileSpanOf { kInputs, kOutputs, kInputProfiles, kOutputProfiles };

[[noreturn]] inline void ThrowTileIndex(TileSpanOf of, size_t index, size_t count) {
  const char* noun = of == TileSpanOf::kInputs           ? "input"
                     : of == TileSpanOf::kOutputs        ? "output"
                     : of == TileSpanOf::kInputProfiles  ? "input profile"
                                                         : "output profile";
  throw std::out_of_range(std::string(noun) + " " + std::to_string(index) + " requested but the filter has " +
                          std::to_string(count) + " " + noun + (count == 1 ? "" : "s"));
}
}  // namespace internal

// A read-only span (like absl::Span<T>) whose operator[], at(), front() and
// back() check the index: past the count they throw std::out_of_range with
// "input 2 requested but the filter has 2 inputs", which the engine reports
// as the filter's failure on that tile (absl::Span's hardened operator[]
// traps instead, with no message). Converts from and to absl::Span<T>, so it
// is built from a Span or a std::vector as the plain Span was.
template <typename T, internal::TileSpanOf kOf>
class TileSpan {
 public:
  using element_type = T;
  using value_type = std::remove_cv_t<T>;
  using size_type = size_t;
  using iterator = T*;
  using const_iterator = T*;

  constexpr TileSpan() = default;
  // From anything absl::Span<T> converts from implicitly (a Span, a vector).
  template <typename C, std::enable_if_t<!std::is_same_v<std::remove_cvref_t<C>, TileSpan> &&
                                             std::is_convertible_v<C&&, absl::Span<T>>,
                                         int> = 0>
  constexpr TileSpan(C&& c) : span_(std::forward<C>(c)) {}  // NOLINT: as absl::Span

  constexpr size_t size() const { return span_.size(); }
  constexpr bool empty() const { return span_.empty(); }
  constexpr T* data() const { return span_.data(); }
  constexpr T* begin() const { return span_.data(); }
  constexpr T* end() const { return span_.data() + span_.size(); }
  T& operator[](size_t i) const {
    if (i >= span_.size()) internal::ThrowTileIndex(kOf, i, span_.size());
    return span_.data()[i];
  }
  T& at(size_t i) const { return (*this)[i]; }
  T& front() const { return (*this)[0]; }
  T& back() const { return (*this)[span_.empty() ? 0 : span_.size() - 1]; }
  // The unchecked span.
  constexpr absl::Span<T> span() const { return span_; }
  constexpr operator absl::Span<T>() const { return span_; }  // NOLINT: a Span is what APIs take

 private:
  absl::Span<T> span_;
};

// What a Map function sees for one tile.
//  - Inputs cover tile.Expanded(): the stable window plus the margin
//    available on each side (clamped at the image border, as in EOScale;
//    in a region run, at the border of the region computed, which is grown
//    by the graph's margins so that the requested window is exact).
//    Inputs are read-only: EOScale's "in-place update of an input corrupts
//    the overlap" cannot be written.
//  - Outputs cover tile.window, the stable window only; the function must
//    write every pixel of it. Output buffers are not zeroed.
//
// Read inputs with In<T>(i): a view in the tile's coordinates, (0, 0) being
// the stable window's first pixel, valid from -margin to size + margin - 1
// (the margin actually available: tile.top/right/bottom/left), so that
// changing the filter's margin never shifts its reads:
//
//   const auto in = t.In<float>(0);
//   const auto out = t.Out<float>(0);
//   for (int y = 0; y < out.rows(); ++y) {
//     const float* up = in.Row(0, y - 1);  // valid when tile.top >= 1
//     float* o = out.Row(0, y);
//     for (int x = 0; x < out.cols(); ++x) o[x] = up[x];
//   }
//
// Row(b, y) is a plain pointer to x = 0 of a row, so such per-pixel loops
// vectorise: checked with -fopt-info-vec on GCC 12 at the Release build's -O3
// (and at -O2 -fvect-cost-model=cheap), with a runtime overlap check as the
// compiler cannot know that input and output rows never overlap. GCC 12's
// plain -O2 ("very-cheap" cost model) vectorises no loop whose trip count is
// unknown, whatever the API.
//
// The raw views remain: inputs[i].As<T>() has its (0, 0) at the first pixel
// of tile.Expanded(), so code written with them adds StableY()/StableX().
// Indexing inputs, outputs or the profiles past their count (also through
// In/Out) throws std::out_of_range, reported as the filter's failure.
struct MapTile {
  Tile tile;
  TileSpan<const ConstView, internal::TileSpanOf::kInputs> inputs;
  TileSpan<const Profile, internal::TileSpanOf::kInputProfiles> input_profiles;
  TileSpan<const View, internal::TileSpanOf::kOutputs> outputs;
  TileSpan<const Profile, internal::TileSpanOf::kOutputProfiles> output_profiles;
  // This (worker thread, node)'s scratch, owned by the engine; null when the
  // engine provides none (GetScratch then uses a per-thread object). Last
  // member, so that aggregate initialisation may leave it out.
  Scratch* scratch = nullptr;

  // Input i in tile coordinates (see above). Throws std::invalid_argument
  // when T is not its pixel type, std::out_of_range past the inputs.
  template <typename T>
  ConstTileView<T> In(size_t i) const {
    return inputs[i].AsTile<T>(tile.window);
  }
  // Output j: the stable window, (0, 0) its first pixel. Throws as In.
  template <typename T>
  TypedView<T> Out(size_t j) const {
    return outputs[j].As<T>();
  }

  // A default-constructed S created once per worker thread and filter node,
  // then handed back on every tile that thread runs for the node (never
  // created per tile): size it on each tile (resize keeps the capacity) and
  // never rely on what a previous tile left in it. The reference is valid
  // for the tile. A filter asks for one type (put several buffers in one
  // struct of its own: it also keeps two filters' buffers apart); another
  // type throws std::logic_error. Without an engine-provided Scratch, the
  // object is a thread_local shared by every filter asking for S on the
  // thread, kept until the thread ends.
  template <typename S>
  S& GetScratch() const {
    if (scratch != nullptr) return scratch->Get<S>();
    thread_local S fallback;
    return fallback;
  }

  // Offset of the stable window inside the raw input views (inputs[i]).
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
  // The most bytes of per-worker scratch (MapTile::GetScratch) one tile
  // needs, given the input profiles and the tile's input window with the
  // margin (width x height pixels). The engine keeps that much of the memory
  // budget for each worker, so that the budget holds with the scratch; a
  // scratch type with `int64_t bytes() const` lets the run measure what it
  // used (RunStats::scratch_peak_bytes). Unset: the filter uses no scratch.
  std::function<int64_t(absl::Span<const Profile> inputs, int width, int height)> scratch_bytes;
};

// What a Reduce map function sees for one tile (no margin): In<T>(i) and
// inputs[i].As<T>() address the same pixels, (0, 0) being the tile's first.
// Indexing past the inputs throws std::out_of_range, as for MapTile.
struct ReduceTile {
  Tile tile;
  TileSpan<const ConstView, internal::TileSpanOf::kInputs> inputs;
  TileSpan<const Profile, internal::TileSpanOf::kInputProfiles> input_profiles;

  template <typename T>
  ConstTileView<T> In(size_t i) const {
    return inputs[i].AsTile<T>(tile.window);
  }
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
  // How a value crosses ranks in a distributed run (graph/distribution.h):
  // deserialize(serialize(v)) must give v back bitwise. Unset, a trivially
  // copyable V is copied as its bytes; another V must set both to run on
  // several ranks (the run says so before it starts).
  std::function<std::string(const V&)> serialize = nullptr;
  std::function<absl::StatusOr<V>(const std::string&)> deserialize = nullptr;
};

}  // namespace eoscale

#endif  // EOSCALE_GRAPH_FILTER_H_
