// --cog: Cloud Optimized GeoTIFF outputs. The engine streams a tiled
// GeoTIFF under a hidden temporary name beside the output; after the run,
// GDAL's COG driver (GDALTranslate) builds the COG, overviews included,
// reading the temporary by blocks (never the whole image in memory) into a
// second temporary, and only when every COG of the run is complete are they
// renamed into place. On any failure or stop signal the temporaries are
// removed and existing files keep their bytes.
#ifndef EOSCALE_CLI_COG_H_
#define EOSCALE_CLI_COG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace eoscale::cli {

// The COG driver's creation options: `co` (KEY=VALUE, checked against the
// driver's list: an unknown key or a bad value is an error), plus defaults
// for what `co` leaves unset: COMPRESS=DEFLATE with PREDICTOR=YES,
// NUM_THREADS=`workers`, BIGTIFF=IF_SAFER.
absl::StatusOr<std::vector<std::string>> CogOptions(const std::vector<std::string>& co, int workers);

// ".NAME.cog-tmp-<pid>-<n>-<tag>.tif" in the folder of `path`.
std::string CogTemporaryName(const std::string& path, const std::string& tag);

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_COG_H_
