// The baseline for EOScale's DSM pipeline (examples/pipeline/pipeline.h,
// RunPipeline): a hand-written multi-threaded strip loop over GDAL, with no
// framework (no graph, no oneTBB), calling the same filter functions the
// engine runs (filters::NodataMask, FillNodata, Uniform, MinMax) directly on
// full-width strips, and writing the same three files.
//
//   dsm.tif --read strip + margins--> nodata mask ------------> nodata_mask.tif
//           --> fill nodata (d = 100) ------------------------> filled_dsm.tif
//           --> uniform 3 ------------------------------------> smooth_dsm.tif
//           --> min/max
//
// Each worker takes strips of `strip_rows` rows from a shared counter. For a
// strip [y0, y1) it reads rows [y0 - 101, y1 + 101) (clamped at the image
// border: fill's margin plus uniform's), computes the mask there, the fill
// on [y0 - 1, y1 + 1), the uniform on [y0, y1), folds the strip's min/max,
// and writes rows [y0, y1) of the three outputs (tiled 256, one writer at a
// time, WriteBlock). The per-strip min/max are folded in strip order. The
// results are bitwise the engine's (each filter honours its margin).
#ifndef EOSCALE_BENCH_PLAIN_PIPELINE_H_
#define EOSCALE_BENCH_PLAIN_PIPELINE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace eoscale::bench {

struct PipelineParams {
  double max_search_distance = 100.0;  // FillNodata
  int uniform_size = 3;                // Uniform
};

struct PlainPipelineResult {
  double min = 0;
  double max = 0;
  int64_t pixels = 0;        // output pixels
  int64_t buffer_bytes = 0;  // the workers' strip buffers, all together
};

// Writes `outdir`/{nodata_mask,filled_dsm,smooth_dsm}.tif (`outdir` must
// exist). REQUIRES: `input` is a single-band float32 raster; workers >= 1;
// strip_rows a positive multiple of 256. Otherwise InvalidArgument. The
// outputs are written directly under their names (a failed run may leave
// partial files). Sets GDAL's block cache to 16 MiB during the call (as the
// engine does by default) and restores it: not safe to call concurrently
// with other GDAL users that care about the cache size.
absl::StatusOr<PlainPipelineResult> RunPlainPipeline(const std::string& input, const std::string& outdir,
                                                     int workers, const PipelineParams& params = {},
                                                     int strip_rows = 256);

}  // namespace eoscale::bench

#endif  // EOSCALE_BENCH_PLAIN_PIPELINE_H_
