// A raster read onto another grid (size, geotransform, CRS) through GDAL's
// warper: what Context::Open(path, {.align_to = grid}) opens (the
// RasterFormat::OpenAligned of GDAL's format), and `eoscale calc -r` /
// `read --align-to` in the command line.
//
// A warped VRT per handle, each read computing only the window asked for
// (GDAL's warper reads the source window it needs, with the margin the
// resampling kernel needs). The source's CRS may differ from the grid's
// (reprojection). Pixels equal `gdalwarp -et 0` to the same grid with the
// same method (tests/align_test.cc, tests/cli_align_test.cc): the
// transformer is exact (no linear approximation), so no pixel depends on
// how the image is tiled.
//
// Thread-safe: each concurrent Read takes a handle of its own from a pool
// (a GDAL dataset is not thread-safe); handles are made on demand, at most
// one per concurrent reader, and closed with the source. The warped blocks
// live in GDAL's block cache (GDAL_CACHEMAX), which a run's memory budget
// does not count.
#ifndef EOSCALE_IO_ALIGNED_SOURCE_H_
#define EOSCALE_IO_ALIGNED_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eoscale/core/profile.h"
#include "eoscale/core/raster_io.h"

namespace eoscale::io {

// GDAL's resampling names, case-insensitive: nearest, bilinear, cubic,
// cubicspline, lanczos, average, mode, min, max, med, q1, q3, sum, rms.
// Returns the GDALResampleAlg; InvalidArgument (listing the names) else.
absl::StatusOr<int> ParseResampling(const std::string& name);

// `path` on its 1-based `bands` (all when empty), resampled with
// `resampling` (a name ParseResampling accepts) onto the grid of `grid`
// (its width, height, geotransform and CRS; the rest is the file's: band
// count, pixel type, nodata). A source nodata value is honoured (never
// interpolated) and fills what the source does not cover; without one,
// uncovered pixels are 0. Errors: NotFound (unreadable file);
// InvalidArgument (a file or grid without georeferencing, bands out of
// range, an unknown resampling, a signed-byte band); Unimplemented (an
// unsupported pixel type).
absl::StatusOr<std::shared_ptr<RasterSource>> OpenAligned(const std::string& path, std::vector<int> bands,
                                                          const Profile& grid, const std::string& resampling);

// A grid given by its extent and resolution, as gdalwarp's `-te XMIN YMIN
// XMAX YMAX -tr XRES YRES -t_srs CRS`: upper-left corner (xmin, ymax),
// pixels xres x yres (both positive), round((xmax - xmin) / xres) columns
// and round((ymax - ymin) / yres) rows (halves up, gdalwarp's rule). `crs`
// is anything GDAL's SetFromUserInput takes ("EPSG:32630", a WKT, a PROJ
// string). The profile has one band, type u8 (only the grid matters).
// Errors: InvalidArgument (an empty extent, a resolution <= 0, an unknown
// CRS).
absl::StatusOr<Profile> GridFromExtent(double xmin, double ymin, double xmax, double ymax, double xres, double yres,
                                       const std::string& crs);

}  // namespace eoscale::io

#endif  // EOSCALE_IO_ALIGNED_SOURCE_H_
