// Context: the entry point. It owns a lazy graph of images; calls build the
// graph and return handles and run nothing; Run() (or asking for data)
// streams tiles through the graph on oneTBB with bounded memory.
//
//   auto ctx = eoscale::Context::Create({.workers = 2});
//   auto img = (*ctx)->Open("in.tif");
//   auto out = (*ctx)->Map({*img}, filter);
//   (*ctx)->Write((*out)[0], "out.tif");
//   absl::Status s = (*ctx)->Run();
//
// Thread safety: a Context and its handles are used from one thread at a
// time. Filters run concurrently on the context's worker threads.
// Lifetime: handles (Image, Reduction) may outlive the Context; using one
// afterwards returns an error, never crashes.
#ifndef EOSCALE_GRAPH_CONTEXT_H_
#define EOSCALE_GRAPH_CONTEXT_H_

#include <any>
#include <cstring>
#include <type_traits>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "eoscale/core/array.h"
#include "eoscale/core/profile.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/core/tiling.h"
#include "eoscale/graph/distribution.h"
#include "eoscale/graph/filter.h"
#include "eoscale/graph/run_stats.h"

namespace eoscale {

namespace internal {
class GraphState;
}  // namespace internal

struct Progress {
  std::string node;         // node whose tile just finished
  int64_t tiles_done = 0;   // tile tasks finished in this run, all nodes
  int64_t tiles_total = 0;  // tile tasks of this run, all nodes
};
// Called from worker threads, one call at a time, after each tile task.
// Returning false cancels the run (it then returns absl::CancelledError).
using ProgressCallback = std::function<bool(const Progress&)>;

struct ContextOptions {
  // Worker threads (>= 1). 0 is an error. Each run gets its own
  // tbb::task_arena of this many threads; the process's oneTBB settings are
  // left alone, except that while runs needing more threads than oneTBB's
  // default pool (the machine's cores) are in progress, the process's
  // thread limit is raised to hold them (never lowered below the default;
  // back to oneTBB's own when the last such run ends). Meanwhile a host's
  // own larger tbb::global_control is capped to that limit.
  int workers = 2;
  TilingOptions tiling = {};
  // Ceiling on the run's memory, in bytes: live tile bytes plus a share for
  // the I/O layer (an eighth, within [1, 16] MiB: GDAL's blocks while a
  // read is in flight, open handles). 0 picks a tile share of
  // max(48 MiB, the graph's minimum + one tile's admission per worker),
  // i.e. 64 MiB in all for most graphs (at its bare minimum a graph runs
  // one admission at a time). A budget below the minimum working set of
  // one tile is an error that states the minimum. GDAL's own cache size is
  // never changed.
  int64_t memory_budget_bytes = 0;
  ProgressCallback progress = nullptr;
  // A Map whose readers read it with a margin computes each tile grown by
  // that margin when this costs little (at most 1.25 x the tile's pixels for
  // a filter with a margin, 2.25 x for a per-pixel one), so that its readers
  // take one tile instead of gathering the neighbours, which kept rows of
  // tiles across the image alive: memory then does not grow with the
  // image's width. False: always gather (no pixel computed twice; for a
  // costly per-pixel filter, or to compare). The pixels are the same.
  bool grow_tiles = true;
  // Records every tile task and samples live bytes and RSS (see
  // RunStats::tasks_trace; Context::WriteTrace). Off: no cost.
  bool trace = false;
  // How Open(path) and Write(image, path) read and create files; null
  // means GDAL's (DefaultRasterFormat()).
  std::shared_ptr<RasterFormat> format = nullptr;
  // A run across the ranks of a job (graph/distribution.h,
  // docs/distributed.md): every rank builds the same graph, Run() and
  // Reduction::Get() are collective, each rank computes a contiguous block
  // of tile rows of every output. Null: this process alone. With MPI:
  // eoscale::mpi::MpiDistribution (mpi/mpi_distribution.h).
  std::shared_ptr<Distribution> distribution = nullptr;
};

// How Write writes an image.
struct WriteOptions {
  // GDAL creation options, "KEY=VALUE", added to the profile's writer
  // options. Unknown options are an error.
  std::vector<std::string> creation_options;
  // A region run: only this window of the image is computed and written
  // (the file is the window's size, georeferenced at its corner). Only the
  // margin-grown windows of the inputs it needs are read; the pixels are
  // those of the same window of a whole-image run.
  std::optional<Window> window;
  // True (the default): before Run() returns, the file and its folder are
  // fsync'ed, so that the output, and the file it replaced, survive a power
  // loss or a system crash; the kernel is asked to write the file back as
  // it is written, and Run() waits for the disk at its end. False: the file
  // is left in the page cache, as GDAL's own tools and a plain loop leave
  // theirs, and the kernel writes it back later; for scratch outputs on a
  // slow disk. A failed or interrupted run still leaves the previous file
  // byte for byte and nothing under the name (the commit is a rename either
  // way); only a system crash soon after the run can lose such an output,
  // and the file it replaced with it. Delayed write errors (NFS, quotas)
  // that only an fsync reports go unseen.
  bool durable = true;
};

// How Open(path, OpenOptions) reads a file.
struct OpenOptions {
  // 1-based bands, in that order; empty means all.
  std::vector<int> bands = {};
  // Read the file onto this grid (its width, height, geotransform and CRS;
  // the rest of the profile is ignored) instead of its own: another image's
  // profile, or io::GridFromExtent's (an extent and a resolution). The
  // file's CRS may differ (reprojection). Through GDAL's warper, a tile's
  // window at a time; pixels equal `gdalwarp -et 0 -r <resampling>` to that
  // grid, whatever the tiling (io/aligned_source.h).
  std::optional<Profile> align_to = std::nullopt;
  // With align_to: GDAL's method name (nearest, bilinear, cubic,
  // cubicspline, lanczos, average, mode, min, max, med, q1, q3, sum, rms).
  std::string resampling = "nearest";
};

// A handle on an image of a context's graph (a source, or an output of a Map).
// Cheap to copy. Does not keep the image's data alive by itself.
class Image {
 public:
  Image() = default;
  // The image's profile; an error if the handle is empty, released, or its
  // context is gone.
  absl::StatusOr<Profile> profile() const;
  // "ndwi#3:0" — node name, node id and output index.
  std::string name() const;

 private:
  friend class Context;
  friend class internal::GraphState;
  Image(std::weak_ptr<internal::GraphState> g, int node, int output)
      : graph_(std::move(g)), node_(node), output_(output) {}
  std::weak_ptr<internal::GraphState> graph_;
  int node_ = -1;
  int output_ = 0;
};

namespace internal {
// The bytes of a trivially copyable value, and back: the default way a
// reduction's value crosses ranks (ReduceFilter::serialize).
template <typename V>
std::string BytesOf(const V& v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof(V));
}
template <typename V>
absl::StatusOr<V> FromBytes(const std::string& b) {
  if (b.size() != sizeof(V)) return absl::DataLossError("reduction value of the wrong size received");
  V v;
  std::memcpy(&v, b.data(), sizeof(V));
  return v;
}

// Type-erased reduction handle; use Reduction<V>.
class ReductionBase {
 protected:
  ReductionBase() = default;
  ReductionBase(std::weak_ptr<GraphState> g, int node) : graph_(std::move(g)), node_(node) {}
  absl::StatusOr<std::any> GetAny();
  std::weak_ptr<GraphState> graph_;
  int node_ = -1;
};
}  // namespace internal

// The future-like result of Context::Reduce.
template <typename V>
class Reduction : public internal::ReductionBase {
 public:
  Reduction() = default;
  // Runs the graph for this reduction if it has not run yet, then returns
  // its value (or the run's error).
  absl::StatusOr<V> Get() {
    absl::StatusOr<std::any> a = GetAny();
    if (!a.ok()) return a.status();
    return std::any_cast<V>(*std::move(a));
  }

 private:
  friend class Context;
  using ReductionBase::ReductionBase;
};

class Context {
 public:
  // Errors: workers < 1; negative tile sizes or budget.
  static absl::StatusOr<std::unique_ptr<Context>> Create(ContextOptions options);
  // Writes requested but never run (Run() was not called) are not
  // silently lost: they are named on stderr. PendingOutputs() tells before.
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // A raster file (EOScale's open_raster). `bands` selects bands, 1-based, in
  // that order (rasterio's `indexes`); empty means all bands. Only the
  // selected bands are read. Errors: missing or unreadable file, not a
  // raster, band out of range, unsupported pixel type.
  absl::StatusOr<Image> Open(const std::string& path, std::vector<int> bands = {});
  // The same with options: bands, and a grid to read the file onto
  // (OpenOptions::align_to). Errors: those of Open(path, bands); with
  // align_to, a file or grid without georeferencing, an unknown resampling
  // method (InvalidArgument), a context format that cannot align
  // (Unimplemented).
  absl::StatusOr<Image> Open(const std::string& path, const OpenOptions& options);
  // Any RasterSource (a user's generator, a NumPy array, per-rank files).
  // Shared: the context keeps it alive while its graph may read it.
  absl::StatusOr<Image> Open(std::shared_ptr<RasterSource> source);
  // An image with every sample equal to `value` (EOScale's create_image,
  // which is all zeros).
  absl::StatusOr<Image> CreateConstant(const Profile& profile, double value = 0.0);
  // Pixels already in memory, band-sequential, laid out as `profile` says.
  // Wrap does not copy: REQUIRES the memory stays valid and unchanged until
  // the last run that reads it has returned. FromArray takes the array.
  absl::StatusOr<Image> Wrap(const Profile& profile, const void* data);
  absl::StatusOr<Image> FromArray(Array array);

  // N images -> M images. Errors (before anything runs): no input; inputs
  // not on the same grid (EOScale's "strong hypothesis", checked: same size,
  // and the same geotransform and CRS when both inputs have them, unless
  // filter.allow_misaligned_inputs); negative
  // margin; no function; a profile function that fails, returns no profile,
  // a profile of another width or height, or another count than num_outputs.
  absl::StatusOr<std::vector<Image>> Map(absl::Span<const Image> inputs, MapFilter filter);

  // N images -> a value. Errors as for Map.
  template <typename V>
  absl::StatusOr<Reduction<V>> Reduce(absl::Span<const Image> inputs, ReduceFilter<V> filter) {
    if (!filter.map || !filter.combine) {
      return absl::InvalidArgumentError("reduce '" + filter.name + "': map and combine must be set");
    }
    auto map = [m = std::move(filter.map)](const ReduceTile& t) -> absl::StatusOr<std::any> {
      absl::StatusOr<V> v = m(t);
      if (!v.ok()) return v.status();
      return std::any(*std::move(v));
    };
    auto combine = [c = std::move(filter.combine)](std::any a, std::any b) {
      return std::any(c(std::any_cast<V>(std::move(a)), std::any_cast<V>(std::move(b))));
    };
    std::function<std::string(const std::any&)> serialize;
    std::function<absl::StatusOr<std::any>(const std::string&)> deserialize;
    if (filter.serialize && filter.deserialize) {
      serialize = [s = std::move(filter.serialize)](const std::any& a) { return s(std::any_cast<const V&>(a)); };
      deserialize = [d = std::move(filter.deserialize)](const std::string& b) -> absl::StatusOr<std::any> {
        absl::StatusOr<V> v = d(b);
        if (!v.ok()) return v.status();
        return std::any(*std::move(v));
      };
    } else if constexpr (std::is_trivially_copyable_v<V>) {
      serialize = [](const std::any& a) { return internal::BytesOf(std::any_cast<const V&>(a)); };
      deserialize = [](const std::string& b) -> absl::StatusOr<std::any> {
        absl::StatusOr<V> v = internal::FromBytes<V>(b);
        if (!v.ok()) return v.status();
        return std::any(*v);
      };
    }
    absl::StatusOr<int> node =
        AddReduce(inputs, filter.name, std::move(map), std::move(combine), filter.allow_misaligned_inputs);
    if (!node.ok()) return node.status();
    SetReduceSerialization(*node, std::move(serialize), std::move(deserialize));
    return Reduction<V>(state_, *node);
  }

  // Asks for `image` to be written to `path` as a tiled GeoTIFF at the next
  // Run(). `options` are GDAL creation options added to the profile's
  // writer options. The file is written under a temporary name in the same
  // folder and renamed on success. Errors: released image, a path whose
  // folder does not exist or is not writable.
  absl::Status Write(const Image& image, const std::string& path,
                     std::vector<std::string> options = {});
  absl::Status Write(const Image& image, const std::string& path, WriteOptions options);
  // Writes into a user's sink, which receives tiles in the coordinates of
  // the image (or of `window`, for a region run) and is driven through
  // RasterSink's protocol at the next Run().
  absl::Status Write(const Image& image, std::shared_ptr<RasterSink> sink,
                     std::optional<Window> window = std::nullopt);

  // Runs what `image` needs and returns it whole in memory (EOScale's
  // get_array), or only `window` of it (a region run). Pending writes are
  // not run. Errors: ResourceExhausted when the array cannot be allocated.
  absl::StatusOr<Array> ReadAll(const Image& image, std::optional<Window> window = std::nullopt);

  // The outputs Write asked for that the next Run() will write.
  std::vector<std::string> PendingOutputs() const;

  // The image is no longer needed (EOScale's release): data held for it (an
  // in-memory source) is freed once nothing pending reads it, and any later
  // use of the handle is an error.
  absl::Status Release(const Image& image);

  // Runs every pending Write and every reduction not yet computed, in one
  // streaming pass. On error, nothing is left under the requested output
  // names; pending work is dropped either way.
  absl::Status Run();

  // Figures of the last run (memory high-water mark, tiles, time, memory
  // report per node).
  const RunStats& last_run_stats() const;

  // The logical graph in Graphviz DOT: one node per source, filter call and
  // sink, edges per image. After a run, annotated per node with the run's
  // figures, and the critical path (the chain of dependent nodes with the
  // most busy time) drawn in red.
  std::string ToDot() const;
  absl::Status WriteDot(const std::string& path) const;
  // The last run's tile tasks as Chrome trace-event JSON (opens in Perfetto).
  // REQUIRES: options().trace was set for that run.
  absl::Status WriteTrace(const std::string& path) const;
  const ContextOptions& options() const;

 private:
  explicit Context(std::shared_ptr<internal::GraphState> state);
  absl::StatusOr<int> AddReduce(absl::Span<const Image> inputs, const std::string& name,
                                std::function<absl::StatusOr<std::any>(const ReduceTile&)> map,
                                std::function<std::any(std::any, std::any)> combine, bool allow_misaligned);
  void SetReduceSerialization(int node, std::function<std::string(const std::any&)> serialize,
                              std::function<absl::StatusOr<std::any>(const std::string&)> deserialize);
  std::shared_ptr<internal::GraphState> state_;
};

// Defined here, on the public API only: the context's RasterFormat opens
// the aligned source (GDAL's warps), then Open(source) adds it.
inline absl::StatusOr<Image> Context::Open(const std::string& path, const OpenOptions& open) {
  if (!open.align_to) {
    if (open.resampling != "nearest") {
      return absl::InvalidArgumentError("cannot open '" + path + "': a resampling method needs align_to");
    }
    return Open(path, open.bands);
  }
  const std::shared_ptr<RasterFormat> format = options().format != nullptr ? options().format : DefaultRasterFormat();
  absl::StatusOr<std::shared_ptr<RasterSource>> source =
      format->OpenAligned(path, open.bands, *open.align_to, open.resampling);
  if (!source.ok()) return source.status();
  return Open(*std::move(source));
}

}  // namespace eoscale

#endif  // EOSCALE_GRAPH_CONTEXT_H_
