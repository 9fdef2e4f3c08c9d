#include "eoscale/filters/cast.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace eoscale::filters {
namespace {

template <typename To, typename From>
To Convert(From v) {
  if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(v);
  } else if constexpr (std::is_floating_point_v<From>) {
    if (std::isnan(v)) return 0;
    const double d = std::trunc(static_cast<double>(v));
    return static_cast<To>(std::clamp(d, static_cast<double>(std::numeric_limits<To>::lowest()),
                                      static_cast<double>(std::numeric_limits<To>::max())));
  } else {
    using Wide = std::conditional_t<std::is_signed_v<From> || std::is_signed_v<To>, int64_t, uint64_t>;
    const Wide w = static_cast<Wide>(v);
    const Wide lo = static_cast<Wide>(std::numeric_limits<To>::lowest());
    const Wide hi = static_cast<Wide>(std::numeric_limits<To>::max());
    if constexpr (std::is_signed_v<Wide>) {
      return static_cast<To>(std::clamp(w, lo, hi));
    } else {
      return static_cast<To>(std::min(w, hi));
    }
  }
}

}  // namespace

MapFilter Cast(PixelType to) {
  MapFilter f;
  f.name = "cast";
  f.profiles = [to](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    Profile p = in[0];
    p.type = to;
    return std::vector<Profile>{p};
  };
  f.fn = [](const MapTile& t) {
    const ConstView& in = t.inputs[0];
    const View& out = t.outputs[0];
    DispatchPixelType(in.type(), [&]<typename From>() {
      DispatchPixelType(out.type(), [&]<typename To>() {
        const auto src = in.As<From>();
        const auto dst = out.As<To>();
        for (int b = 0; b < dst.bands(); ++b)
          for (int y = 0; y < dst.rows(); ++y) {
            const From* s = src.Row(b, y + t.StableY()) + t.StableX();
            To* d = dst.Row(b, y);
            for (int x = 0; x < dst.cols(); ++x) d[x] = Convert<To>(s[x]);
          }
      });
    });
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
