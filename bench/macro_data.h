// macro_benchmark's inputs: which files a workload reads at a size and in a
// layout, and their generation, once, under a cache root.
//
//   water mask, size N <= mosaic_above:
//     band      ROOT/s2_like_<N>px_<D>dates/date_k.tif        (MakeS2Like)
//     pixel     ROOT/s2_like_<N>px_<D>dates_pixel/date_k.tif  (input_layouts.h)
//     deflate   ROOT/s2_like_<N>px_<D>dates_deflate/date_k.tif
//     jp2       ROOT/s2_like_<N>px_<D>dates_jp2/date_k.vrt (+ date_k_b<b>.jp2)
//   water mask, size N > mosaic_above (N even): a 2 x 2 mosaic of size N/2
//               ROOT/s2_like_<N>px_<D>dates[_<layout>]_mosaic/date_k.vrt
//   pipeline:   ROOT/synthetic_dsm_<N>px/dsm.tif                (MakeSyntheticDsm)
//               ROOT/synthetic_dsm_<N>px_mosaic/dsm.vrt above mosaic_above
//
// Generation runs in a child process (this binary re-executed, see
// bench_util.h: RunSelf) because MakeS2Like starts oneTBB and the parent
// must never; the parent only reads the files once afterwards (WarmUp).
// Not thread-safe (the parent's cache of prepared datasets).
#ifndef EOSCALE_BENCH_MACRO_DATA_H_
#define EOSCALE_BENCH_MACRO_DATA_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace eoscale::bench {

enum class Workload { kWaterMask, kPipeline };
const char* WorkloadName(Workload w);

// How the water mask's dates are stored (input_layouts.h); kBand is
// MakeS2Like's own band-interleaved uncompressed GeoTIFF.
enum class Layout { kBand, kPixel, kDeflate, kJp2 };
const char* LayoutName(Layout l);
// "band", "pixel", "deflate" or "jp2". Errors: anything else.
absl::StatusOr<Layout> ParseLayout(absl::string_view name);

// The dates of a water-mask folder: DIR/date_k.vrt for k = 1..dates if
// DIR/date_1.vrt exists (jp2 stacks and mosaics), else DIR/date_k.tif.
std::vector<std::string> DatePaths(const std::string& dir, int dates);

// Child side: one generation job (the child's --workload, --variant,
// --size, --dates, --data, --out):
//   gen_s2      MakeS2Like into folder `data`
//   gen_dsm     MakeSyntheticDsm to file `data` (kept if present)
//   gen_layout  the dates of folder `data` in layout `layout` into folder `out`
//   gen_mosaic  2 x 2 mosaic VRTs of folder `data`'s dates into folder `out`
//               (or of file `data` to file `out`)
// Starts oneTBB (gen_s2): call it in a child only.
struct GenJob {
  std::string kind;
  std::string layout;
  int size = 0;
  int dates = 4;
  std::string data;
  std::string out;
};
absl::Status RunGenJob(const GenJob& job);

// Parent side.
struct DataOptions {
  std::filesystem::path root;  // the cache root (or a temporary folder)
  int dates = 4;
  int mosaic_above = 16384;  // sizes above this are 2 x 2 mosaics of size / 2
};

struct Dataset {
  std::string data;   // what the child's --data gets: a folder (water mask) or a file (pipeline)
  std::string error;  // non-empty: the data could not be made
};

// The inputs of (workload, layout, size), generated in a child on first
// use (with what they derive from: the band layout, the half-size data of a
// mosaic) and read once; later calls return the same Dataset. The pipeline
// has the band layout only (an error otherwise).
const Dataset& DatasetFor(const DataOptions& options, Workload w, Layout layout, int size);

}  // namespace eoscale::bench

#endif  // EOSCALE_BENCH_MACRO_DATA_H_
