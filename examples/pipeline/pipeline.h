// EOScale's examples/pipeline.py, step for step, as a function (header-only
// so that the tests run exactly the example's code):
//
//   1. nodata mask   (uint8, 1 = nodata)                 -> nodata_mask.tif
//   2. fill nodata   (GDALFillNodata semantics, max search distance 100,
//                     no smoothing, margin 100); the input and the mask are
//                     released                         -> filled_dsm.tif
//   3. uniform       (3 x 3 box mean, margin 1)          -> smooth_dsm.tif
//   4. min and max of the smoothed DSM, and its count of valid samples
//
// Unlike EOScale, nothing runs while the graph is built: one Run() streams
// every tile through the four steps and the three writes at once.
#ifndef EOSCALE_EXAMPLES_PIPELINE_PIPELINE_H_
#define EOSCALE_EXAMPLES_PIPELINE_PIPELINE_H_

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eoscale/core/array.h"
#include "eoscale/core/pixel_type.h"
#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/min_max.h"
#include "eoscale/filters/nodata_mask.h"
#include "eoscale/filters/uniform.h"
#include "eoscale/graph/context.h"
#include "../s2_like/synthetic_dsm.h"  // MakeSyntheticDsm, for the program and the benchmarks

namespace eoscale::examples {

struct PipelineOptions {
  int workers = 2;
  TilingOptions tiling;
  ProgressCallback progress;  // optional; returning false cancels the run
  int64_t memory_budget_bytes = 0;  // ContextOptions::memory_budget_bytes (0: the default)
  std::string extension = ".tif";  // of the outputs; ".vrt" in a distributed run: parts joined by a VRT
  std::vector<std::string> writer_options;  // the outputs' creation options ("KEY=VALUE")
  bool durable = true;  // WriteOptions::durable: fsync the outputs (false: leave them to the page cache)
  // Set: a run across the ranks of a job (ContextOptions::distribution).
  std::shared_ptr<Distribution> distribution;
};

// How RunPipeline writes each output.
inline WriteOptions WriteOptionsOf(const PipelineOptions& options) {
  WriteOptions w;
  w.creation_options = options.writer_options;
  w.durable = options.durable;
  return w;
}

struct PipelineResult {
  // Samples of the smoothed DSM that are neither the input's nodata nor NaN.
  // When 0 (an all-nodata or all-NaN DSM), min and max are meaningless
  // (MinMax counts nodata samples and skips NaN, as EOScale) and the
  // program says "no valid pixel" instead of printing them.
  int64_t valid_pixels = 0;
  double min = 0.0;  // of the smoothed DSM
  double max = 0.0;
  RunStats stats;
};

// Counts the samples that are neither `nodata` (if set) nor NaN, any type.
inline ReduceFilter<int64_t> CountValid(std::optional<double> nodata) {
  ReduceFilter<int64_t> f;
  f.name = "count valid";
  f.map = [nodata](const ReduceTile& t) -> absl::StatusOr<int64_t> {
    int64_t n = 0;
    DispatchPixelType(t.inputs[0].type(), [&]<typename T>() {
      const auto v = t.inputs[0].As<T>();
      for (int b = 0; b < v.bands(); ++b) {
        for (int y = 0; y < v.rows(); ++y) {
          const T* row = v.Row(b, y);
          for (int x = 0; x < v.cols(); ++x) {
            const double d = static_cast<double>(row[x]);
            n += !std::isnan(d) && !(nodata && d == *nodata);
          }
        }
      }
    });
    return n;
  };
  f.combine = [](int64_t a, int64_t b) { return a + b; };
  return f;
}

// Runs the pipeline on `input_dsm` (one band) and writes nodata_mask.tif,
// filled_dsm.tif and smooth_dsm.tif into the existing folder `outdir`.
inline absl::StatusOr<PipelineResult> RunPipeline(const std::string& input_dsm, const std::string& outdir,
                                                  const PipelineOptions& options = {}) {
  ContextOptions co;
  co.workers = options.workers;
  co.tiling = options.tiling;
  co.progress = options.progress;
  co.memory_budget_bytes = options.memory_budget_bytes;
  co.distribution = options.distribution;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(co);
  if (!ctx.ok()) return ctx.status();
  Context& c = **ctx;

  absl::StatusOr<Image> dsm = c.Open(input_dsm);
  if (!dsm.ok()) return dsm.status();
  absl::StatusOr<Profile> dsm_profile = dsm->profile();
  if (!dsm_profile.ok()) return dsm_profile.status();

  // Step 1: nodata mask, flushed to disk.
  absl::StatusOr<std::vector<Image>> mask = c.Map({*dsm}, filters::NodataMask());
  if (!mask.ok()) return mask.status();
  if (absl::Status s = c.Write((*mask)[0], outdir + "/nodata_mask" + options.extension,
                                 WriteOptionsOf(options));
      !s.ok()) {
    return s;
  }

  // Step 2: fill nodata from the DSM and its mask (margin 100).
  filters::FillNodataOptions fill;
  fill.max_search_distance = 100.0;
  fill.smoothing_iterations = 0;
  absl::StatusOr<std::vector<Image>> filled = c.Map({*dsm, (*mask)[0]}, filters::FillNodata(fill));
  if (!filled.ok()) return filled.status();
  // Neither the input nor the mask is needed by a later filter.
  if (absl::Status s = c.Release(*dsm); !s.ok()) return s;
  if (absl::Status s = c.Release((*mask)[0]); !s.ok()) return s;
  if (absl::Status s = c.Write((*filled)[0], outdir + "/filled_dsm" + options.extension,
                                 WriteOptionsOf(options));
      !s.ok()) {
    return s;
  }

  // Step 3: uniform filter of size 3 (margin 1).
  absl::StatusOr<std::vector<Image>> smooth = c.Map(*filled, filters::Uniform(3));
  if (!smooth.ok()) return smooth.status();
  if (absl::Status s = c.Write((*smooth)[0], outdir + "/smooth_dsm" + options.extension,
                                 WriteOptionsOf(options));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = c.Release((*filled)[0]); !s.ok()) return s;

  // Step 4: min and max of the smoothed DSM.
  absl::StatusOr<Reduction<filters::MinMaxResult>> stats = c.Reduce<filters::MinMaxResult>(*smooth, filters::MinMax());
  if (!stats.ok()) return stats.status();
  absl::StatusOr<Reduction<int64_t>> valid = c.Reduce<int64_t>(*smooth, CountValid(dsm_profile->nodata));
  if (!valid.ok()) return valid.status();

  if (absl::Status s = c.Run(); !s.ok()) return s;  // every write and the min/max, in one pass
  absl::StatusOr<filters::MinMaxResult> mm = stats->Get();
  if (!mm.ok()) return mm.status();
  absl::StatusOr<int64_t> valid_pixels = valid->Get();
  if (!valid_pixels.ok()) return valid_pixels.status();
  PipelineResult r;
  r.valid_pixels = *valid_pixels;
  r.min = mm->min;
  r.max = mm->max;
  r.stats = c.last_run_stats();
  return r;
}

}  // namespace eoscale::examples

#endif  // EOSCALE_EXAMPLES_PIPELINE_PIPELINE_H_
