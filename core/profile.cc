#include "eoscale/core/profile.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace eoscale {

absl::Status ValidateProfile(const Profile& p, absl::string_view what) {
  if (p.width <= 0 || p.height <= 0 || p.bands <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": width, height and bands must be positive, got ",
                                                   DescribeProfile(p)));
  }
  return absl::OkStatus();
}

bool Profile::HasGeotransform() const {
  static constexpr std::array<double, 6> kDefault = {0.0, 1.0, 0.0, 0.0, 0.0, 1.0};
  return geotransform != kDefault;
}

bool Profile::SameGrid(const Profile& o) const { return DescribeGridDifference(*this, o).empty(); }

std::string DescribeGridDifference(const Profile& a, const Profile& b) {
  if (a.width != b.width || a.height != b.height) {
    return absl::StrCat("size ", a.width, "x", a.height, " vs ", b.width, "x", b.height);
  }
  if (a.HasGeotransform() && b.HasGeotransform()) {
    const auto& g = a.geotransform;
    const auto& h = b.geotransform;
    const double px = std::max(std::hypot(g[1], g[4]), std::hypot(g[2], g[5]));
    const double tol = 0.01 * (px > 0 ? px : 1.0);
    if (std::abs(g[0] - h[0]) > tol || std::abs(g[3] - h[3]) > tol) {
      return absl::StrFormat("origin (%.10g, %.10g) vs (%.10g, %.10g)", g[0], g[3], h[0], h[3]);
    }
    // Over the whole image, the pixel size may not drift by a hundredth of a pixel.
    const double span = std::max(1, std::max(a.width, a.height));
    for (int i : {1, 2, 4, 5}) {
      if (std::abs(g[i] - h[i]) * span > tol) {
        return absl::StrFormat("pixel size/rotation (%.10g, %.10g, %.10g, %.10g) vs (%.10g, %.10g, %.10g, %.10g)",
                               g[1], g[2], g[4], g[5], h[1], h[2], h[4], h[5]);
      }
    }
  }
  if (!a.crs_wkt.empty() && !b.crs_wkt.empty() && a.crs_wkt != b.crs_wkt) {
    auto head = [](const std::string& w) { return w.size() > 60 ? w.substr(0, 60) + "..." : w; };
    return absl::StrCat("CRS ", head(a.crs_wkt), " vs ", head(b.crs_wkt));
  }
  return "";
}

Profile CropProfile(const Profile& p, const Window& w) {
  Profile c = p;
  c.width = w.width;
  c.height = w.height;
  const auto& g = p.geotransform;
  c.geotransform[0] = g[0] + w.x * g[1] + w.y * g[2];
  c.geotransform[3] = g[3] + w.x * g[4] + w.y * g[5];
  return c;
}

std::string DescribeProfile(const Profile& p) {
  return absl::StrCat(p.width, "x", p.height, "x", p.bands, " ", PixelTypeName(p.type));
}

}  // namespace eoscale
