#include "eoscale/core/profile.h"

#include "absl/strings/str_cat.h"

namespace eoscale {

absl::Status ValidateProfile(const Profile& p, absl::string_view what) {
  if (p.width <= 0 || p.height <= 0 || p.bands <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": width, height and bands must be positive, got ",
                                                   DescribeProfile(p)));
  }
  return absl::OkStatus();
}

std::string DescribeProfile(const Profile& p) {
  return absl::StrCat(p.width, "x", p.height, "x", p.bands, " ", PixelTypeName(p.type));
}

}  // namespace eoscale
