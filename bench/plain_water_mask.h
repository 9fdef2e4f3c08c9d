// The baseline the engine is measured against: the multi-date water mask
// written as a hand-made multi-threaded loop over GDAL, with no framework.
//
// Semantics (the engine's water_mask example must match them bit for bit):
// for each input (a date), G = band 2 and NIR = band 4, int16;
//   float ndwi = (float(g) - float(n)) / (float(g) + float(n) + 0.001f);
// a date says water where ndwi > 0.0f; the output pixel is 1 where every date
// says water, else 0. The output is a uint8 single-band GeoTIFF tiled
// 256 x 256, with the first input's geotransform and CRS and no nodata.
#ifndef EOSCALE_BENCH_PLAIN_WATER_MASK_H_
#define EOSCALE_BENCH_PLAIN_WATER_MASK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace eoscale::bench {

struct PlainResult {
  int64_t water_pixels = 0;
  int64_t pixels = 0;       // output pixels
  double wall_seconds = 0;  // the whole call, up to the closed output
};

// Writes the mask of `inputs` to `output` (directly under that name; a failed
// run may leave a partial file) with `workers` threads.
//
// REQUIRES: inputs non-empty, all of one size, with at least 4 bands, bands
// 2 and 4 of type int16; workers >= 1. Otherwise an InvalidArgument error.
// Unreadable inputs or an unwritable output: an error naming the path.
//
// Sets GDAL's block cache size (GDALSetCacheMax64) for the duration of the
// call and restores it afterwards: not safe to call concurrently with other
// GDAL users that care about the cache size.
absl::StatusOr<PlainResult> RunPlainWaterMask(const std::vector<std::string>& inputs,
                                              const std::string& output, int workers);

}  // namespace eoscale::bench

#endif  // EOSCALE_BENCH_PLAIN_WATER_MASK_H_
