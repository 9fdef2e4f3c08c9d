// Profile: the description of an image without its pixels (the equivalent of
// a rasterio profile). A plain value type.
#ifndef EOSCALE_CORE_PROFILE_H_
#define EOSCALE_CORE_PROFILE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "eoscale/core/pixel_type.h"
#include "eoscale/core/tiling.h"

namespace eoscale {

struct Profile {
  int width = 0;
  int height = 0;
  int bands = 1;
  PixelType type = PixelType::kU8;
  // GDAL order: x0, pixel width, row rotation, y0, column rotation, pixel height.
  std::array<double, 6> geotransform = {0.0, 1.0, 0.0, 0.0, 0.0, 1.0};
  // Coordinate reference system as WKT; empty when unknown.
  std::string crs_wkt;
  std::optional<double> nodata;
  // GDAL creation options applied when this image is written, "KEY=VALUE"
  // (e.g. "COMPRESS=DEFLATE", "BIGTIFF=YES").
  std::vector<std::string> writer_options;

  // Bytes of the whole image.
  int64_t ImageBytes() const {
    return static_cast<int64_t>(width) * height * bands * static_cast<int64_t>(PixelSize(type));
  }
  // True when the pixels of both profiles sit on the same grid: same width
  // and height, and, when both are georeferenced, the same geotransform
  // (within a hundredth of a pixel) and, when both have one, the same CRS.
  // Band count, type and nodata may differ.
  bool SameGrid(const Profile& o) const;
  // A geotransform other than GDAL's default (0, 1, 0, 0, 0, 1).
  bool HasGeotransform() const;
  friend bool operator==(const Profile&, const Profile&) = default;
};

// Checks width, height and bands are positive. `what` names the profile in
// the message ("output profile 1 of filter 'ndwi'").
absl::Status ValidateProfile(const Profile& p, absl::string_view what);

// What differs between the grids of `a` and `b` ("origin (0, 0) vs
// (10, 0)"), empty when a.SameGrid(b).
std::string DescribeGridDifference(const Profile& a, const Profile& b);

// The profile of window `w` of an image of profile `p`: its size, and the
// geotransform moved to the window's corner.
Profile CropProfile(const Profile& p, const Window& w);

// "3500x3500x4 i16"
std::string DescribeProfile(const Profile& p);

}  // namespace eoscale

#endif  // EOSCALE_CORE_PROFILE_H_
