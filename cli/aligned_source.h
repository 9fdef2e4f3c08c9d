// A raster read onto another grid (size, geotransform, CRS) through GDAL's
// warper: a warped VRT per handle, each read computing only the window
// asked for (GDAL's warper reads the source window it needs, with the
// margin the resampling kernel needs). The source's CRS may differ from
// the grid's (reprojection). Pixels equal `gdalwarp -et 0` to the same grid
// with the same method (tests/cli_align_test.cc): the transformer is exact
// (no linear approximation), so no pixel depends on how the image is tiled.
//
// Thread-safe: each concurrent Read takes a handle of its own from a pool
// (a GDAL dataset is not thread-safe); handles are made on demand, at most
// one per concurrent reader, and closed with the source.
#ifndef EOSCALE_CLI_ALIGNED_SOURCE_H_
#define EOSCALE_CLI_ALIGNED_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eoscale/core/raster_io.h"

namespace eoscale::cli {

// GDAL's names: nearest, bilinear, cubic, cubicspline, lanczos, average,
// mode, min, max, med, q1, q3, sum, rms.
absl::StatusOr<int> ParseResampling(const std::string& name);

// `path` on its 1-based `bands` (all when empty), resampled with
// `resampling` (a GDALResampleAlg from ParseResampling) onto the grid of
// `grid` (its width, height, geotransform and CRS; the rest is the
// file's: band count, pixel type, nodata). A source nodata value is
// honoured (never interpolated) and fills what the source does not cover;
// without one, uncovered pixels are 0. Errors: unreadable file, a file or
// grid without georeferencing, bands out of range.
absl::StatusOr<std::shared_ptr<RasterSource>> OpenAligned(const std::string& path, std::vector<int> bands,
                                                          const Profile& grid, int resampling);

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_ALIGNED_SOURCE_H_
