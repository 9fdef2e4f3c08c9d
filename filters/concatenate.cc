#include "eoscale/filters/concatenate.h"

#include <vector>

#include "eoscale/filters/sample.h"

namespace eoscale::filters {

MapFilter Concatenate(PixelType out) {
  MapFilter f;
  f.name = "concatenate";
  f.num_outputs = 1;
  f.profiles = [out](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    Profile p = WithPixelType(in[0], out);
    p.bands = 0;
    for (const Profile& i : in) p.bands += i.bands;
    return std::vector<Profile>{p};
  };
  f.fn = [](const MapTile& t) {
    const View& o = t.outputs[0];
    int out_band = 0;
    for (const ConstView& in : t.inputs) {
      DispatchPixelType(in.type(), [&]<typename From>() {
        DispatchPixelType(o.type(), [&]<typename To>() {
          const auto src = in.As<From>();
          const auto dst = o.As<To>();
          for (int b = 0; b < src.bands(); ++b) {
            for (int y = 0; y < dst.rows(); ++y) {
              const From* s = src.Row(b, y + t.StableY()) + t.StableX();
              To* d = dst.Row(out_band + b, y);
              for (int x = 0; x < dst.cols(); ++x) d[x] = ConvertSample<To>(s[x]);
            }
          }
        });
      });
      out_band += in.bands();
    }
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
