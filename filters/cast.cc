#include "eoscale/filters/cast.h"

#include "eoscale/filters/sample.h"

#include <vector>

namespace eoscale::filters {

MapFilter Cast(PixelType to) {
  MapFilter f;
  f.name = "cast";
  f.profiles = [to](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    Profile p = in[0];
    p.type = to;
    return std::vector<Profile>{p};
  };
  f.fn = [](const MapTile& t) {
    DispatchPixelType(t.inputs[0].type(), [&]<typename From>() {
      DispatchPixelType(t.outputs[0].type(), [&]<typename To>() {
        const auto src = t.In<From>(0);
        const auto dst = t.Out<To>(0);
        for (int b = 0; b < dst.bands(); ++b)
          for (int y = 0; y < dst.rows(); ++y) {
            const From* s = src.Row(b, y);
            To* d = dst.Row(b, y);
            for (int x = 0; x < dst.cols(); ++x) d[x] = ConvertSample<To>(s[x]);
          }
      });
    });
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
