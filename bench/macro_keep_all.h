// macro_benchmark's keep_all variant: EOScale's memory strategy with this
// engine's filters. Every stage ReadAll()s its output whole into an Array
// and the next stage reads it back with FromArray(); every intermediate
// stays in memory until the end. Starts oneTBB: child processes only.
#ifndef EOSCALE_BENCH_MACRO_KEEP_ALL_H_
#define EOSCALE_BENCH_MACRO_KEEP_ALL_H_

#include <string>

#include "absl/status/status.h"
#include "bench_util.h"

namespace eoscale::bench {

struct KeepAllJob {
  std::string data;  // water mask: the dates' folder (macro_data.h: DatePaths); pipeline: the DSM
  std::string out;   // water mask: the mask's file; pipeline: an existing folder
  int size = 0;
  int dates = 4;
  int workers = 2;
  int tile = 0;  // 0: the engine's default
};

// examples::RunWaterMask's graph, each stage kept whole. Fills r's check[0]
// (water pixels), pixels and peak_live_bytes (intermediates held plus the
// engine's peak live bytes).
absl::Status KeepAllWaterMask(const KeepAllJob& a, ChildReport* r);

// examples::RunPipeline's graph with every stage read whole and kept until
// the end, then the three writes (nodata_mask.tif, filled_dsm.tif,
// smooth_dsm.tif in `out`) and the min/max (check[0], check[1]).
absl::Status KeepAllPipeline(const KeepAllJob& a, ChildReport* r);

}  // namespace eoscale::bench

#endif  // EOSCALE_BENCH_MACRO_KEEP_ALL_H_
