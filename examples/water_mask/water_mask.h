// The seed page's 4-date water mask, written with the public API:
// per date NDWI = (G - NIR) / (G + NIR + 0.001) in float32 (G = band 2,
// NIR = band 4), mask = NDWI > 0 as uint8, then a logical AND over the dates.
#ifndef EOSCALE_EXAMPLES_WATER_MASK_WATER_MASK_H_
#define EOSCALE_EXAMPLES_WATER_MASK_WATER_MASK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eoscale/core/tiling.h"
#include "eoscale/graph/context.h"
#include "eoscale/graph/run_stats.h"

namespace eoscale::examples {

struct WaterMaskOptions {
  int workers = 2;
  TilingOptions tiling;
  int64_t memory_budget_bytes = 0;  // 0 = the engine's default
  std::vector<std::string> writer_options;
  bool durable = true;  // WriteOptions::durable: fsync the output (false: leave it to the page cache)
  eoscale::ProgressCallback progress;  // optional
  std::string dot_path;    // if set, the run-annotated graph is written there
  std::string trace_path;  // if set, the run is traced and its trace written there
  // Set: a run across the ranks of a job (ContextOptions::distribution).
  std::shared_ptr<Distribution> distribution;
};

struct WaterMaskResult {
  int64_t water_pixels = 0;
  int64_t pixels = 0;  // output pixels
  RunStats stats;
};

// Writes the uint8 mask (1 = water on every date) of `inputs` (rasters of
// one size with at least 4 bands, G = band 2 and NIR = band 4, of any pixel
// type: samples are read as float32) to `output`.
absl::StatusOr<WaterMaskResult> RunWaterMask(const std::vector<std::string>& inputs,
                                             const std::string& output,
                                             const WaterMaskOptions& options);

}  // namespace eoscale::examples

#endif  // EOSCALE_EXAMPLES_WATER_MASK_WATER_MASK_H_
