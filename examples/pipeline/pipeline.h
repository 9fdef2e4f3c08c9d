// EOScale's examples/pipeline.py, step for step, as a function (header-only
// so that the tests run exactly the example's code):
//
//   1. nodata mask   (uint8, 1 = nodata)                 -> nodata_mask.tif
//   2. fill nodata   (GDALFillNodata semantics, max search distance 100,
//                     no smoothing, margin 100); the input and the mask are
//                     released                         -> filled_dsm.tif
//   3. uniform       (3 x 3 box mean, margin 1)          -> smooth_dsm.tif
//   4. min and max of the smoothed DSM
//
// Unlike EOScale, nothing runs while the graph is built: one Run() streams
// every tile through the four steps and the three writes at once.
#ifndef EOSCALE_EXAMPLES_PIPELINE_PIPELINE_H_
#define EOSCALE_EXAMPLES_PIPELINE_PIPELINE_H_

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eoscale/core/array.h"
#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/min_max.h"
#include "eoscale/filters/nodata_mask.h"
#include "eoscale/filters/uniform.h"
#include "eoscale/graph/context.h"

namespace eoscale::examples {

struct PipelineOptions {
  int workers = 2;
  TilingOptions tiling;
};

struct PipelineResult {
  double min = 0.0;  // of the smoothed DSM
  double max = 0.0;
  RunStats stats;
};

// Runs the pipeline on `input_dsm` (one band) and writes nodata_mask.tif,
// filled_dsm.tif and smooth_dsm.tif into the existing folder `outdir`.
inline absl::StatusOr<PipelineResult> RunPipeline(const std::string& input_dsm, const std::string& outdir,
                                                  const PipelineOptions& options = {}) {
  ContextOptions co;
  co.workers = options.workers;
  co.tiling = options.tiling;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(co);
  if (!ctx.ok()) return ctx.status();
  Context& c = **ctx;

  absl::StatusOr<Image> dsm = c.Open(input_dsm);
  if (!dsm.ok()) return dsm.status();

  // Step 1: nodata mask, flushed to disk.
  absl::StatusOr<std::vector<Image>> mask = c.Map({*dsm}, filters::NodataMask());
  if (!mask.ok()) return mask.status();
  if (absl::Status s = c.Write((*mask)[0], outdir + "/nodata_mask.tif"); !s.ok()) return s;

  // Step 2: fill nodata from the DSM and its mask (margin 100).
  filters::FillNodataOptions fill;
  fill.max_search_distance = 100.0;
  fill.smoothing_iterations = 0;
  absl::StatusOr<std::vector<Image>> filled = c.Map({*dsm, (*mask)[0]}, filters::FillNodata(fill));
  if (!filled.ok()) return filled.status();
  // Neither the input nor the mask is needed by a later filter.
  if (absl::Status s = c.Release(*dsm); !s.ok()) return s;
  if (absl::Status s = c.Release((*mask)[0]); !s.ok()) return s;
  if (absl::Status s = c.Write((*filled)[0], outdir + "/filled_dsm.tif"); !s.ok()) return s;

  // Step 3: uniform filter of size 3 (margin 1).
  absl::StatusOr<std::vector<Image>> smooth = c.Map(*filled, filters::Uniform(3));
  if (!smooth.ok()) return smooth.status();
  if (absl::Status s = c.Write((*smooth)[0], outdir + "/smooth_dsm.tif"); !s.ok()) return s;
  if (absl::Status s = c.Release((*filled)[0]); !s.ok()) return s;

  // Step 4: min and max of the smoothed DSM.
  absl::StatusOr<Reduction<filters::MinMaxResult>> stats = c.Reduce<filters::MinMaxResult>(*smooth, filters::MinMax());
  if (!stats.ok()) return stats.status();

  if (absl::Status s = c.Run(); !s.ok()) return s;  // every write and the min/max, in one pass
  absl::StatusOr<filters::MinMaxResult> mm = stats->Get();
  if (!mm.ok()) return mm.status();
  PipelineResult r;
  r.min = mm->min;
  r.max = mm->max;
  r.stats = c.last_run_stats();
  return r;
}

// Writes a synthetic DSM to `path`: float32, `width` x `height`, nodata
// -32768, a smooth terrain with box-shaped buildings and holes of every size
// (single pixels to blocks wider than the fill's search distance).
// Deterministic for a seed.
inline absl::Status MakeSyntheticDsm(const std::string& path, int width, int height, uint64_t seed = 1) {
  Profile p;
  p.width = width;
  p.height = height;
  p.type = PixelType::kF32;
  p.nodata = -32768.0;
  p.geotransform = {570000.0, 0.5, 0.0, 4831000.0, 0.0, -0.5};
  Array a(p);
  auto s = a.MutableSamples<float>();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      s[static_cast<size_t>(y) * width + x] =
          static_cast<float>(100.0 + 15.0 * std::sin(x * 0.011) * std::cos(y * 0.017) + 0.2 * u(rng));
    }
  }
  auto box = [&](int x0, int y0, int w, int h, bool hole, float height_m) {
    for (int y = std::max(0, y0); y < std::min(height, y0 + h); ++y) {
      for (int x = std::max(0, x0); x < std::min(width, x0 + w); ++x) {
        float& v = s[static_cast<size_t>(y) * width + x];
        v = hole ? -32768.0f : v + height_m;
      }
    }
  };
  const int buildings = width * height / 4000;
  for (int i = 0; i < buildings; ++i) {
    box(static_cast<int>(u(rng) * width), static_cast<int>(u(rng) * height), 5 + static_cast<int>(u(rng) * 30),
        5 + static_cast<int>(u(rng) * 30), false, static_cast<float>(3.0 + 20.0 * u(rng)));
  }
  for (int i = 0; i < width * height / 500; ++i) {
    box(static_cast<int>(u(rng) * width), static_cast<int>(u(rng) * height), 1, 1, true, 0.0f);
  }
  for (int i = 0; i < buildings / 4; ++i) {
    box(static_cast<int>(u(rng) * width), static_cast<int>(u(rng) * height), 1 + static_cast<int>(u(rng) * 40),
        1 + static_cast<int>(u(rng) * 40), true, 0.0f);
  }
  box(width / 3, height / 3, 180, 160, true, 0.0f);  // most of it farther than 40 px from data

  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create({});
  if (!ctx.ok()) return ctx.status();
  absl::StatusOr<Image> img = (*ctx)->FromArray(std::move(a));
  if (!img.ok()) return img.status();
  if (absl::Status st = (*ctx)->Write(*img, path); !st.ok()) return st;
  return (*ctx)->Run();
}

}  // namespace eoscale::examples

#endif  // EOSCALE_EXAMPLES_PIPELINE_PIPELINE_H_
