// --bbox-crs: a box given in another CRS than the image's, as the envelope
// of its outline (21 points per edge) transformed into the image's CRS,
// in GIS axis order (x = longitude or easting), as gdalwarp's -te_srs.
#ifndef EOSCALE_CLI_BBOX_CRS_H_
#define EOSCALE_CLI_BBOX_CRS_H_

#include <array>
#include <string>

#include "absl/status/statusor.h"

namespace eoscale::cli {

// Checks that `crs` (EPSG:4326, a WKT, a PROJ string: what GDAL takes) is
// a CRS GDAL knows.
absl::Status CheckCrs(const std::string& crs);

// `box` (xmin, ymin, xmax, ymax in `from`) in the CRS `to_wkt`.
absl::StatusOr<std::array<double, 4>> TransformBox(const std::array<double, 4>& box, const std::string& from,
                                                   const std::string& to_wkt);

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_BBOX_CRS_H_
