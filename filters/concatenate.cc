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
    int out_band = 0;
    for (size_t i = 0; i < t.inputs.size(); ++i) {
      const ConstView& in = t.inputs[i];
      DispatchPixelType(in.type(), [&]<typename From>() {
        DispatchPixelType(t.outputs[0].type(), [&]<typename To>() {
          const auto src = t.In<From>(i);
          const auto dst = t.Out<To>(0);
          for (int b = 0; b < src.bands(); ++b) {
            for (int y = 0; y < dst.rows(); ++y) {
              const From* s = src.Row(b, y);
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
