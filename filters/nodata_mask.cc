#include "eoscale/filters/nodata_mask.h"

#include <vector>

#include "eoscale/filters/sample.h"

namespace eoscale::filters {

MapFilter NodataMask() {
  MapFilter f;
  f.name = "nodata mask";
  f.num_outputs = 1;
  f.profiles = [](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    Profile p = in[0];
    p.type = PixelType::kU8;
    p.nodata.reset();
    return std::vector<Profile>{p};
  };
  f.fn = [](const MapTile& t) {
    DispatchPixelType(t.inputs[0].type(), [&]<typename T>() {
      const NodataTest<T> is_nodata(t.input_profiles[0].nodata);
      const auto src = t.In<T>(0);
      const auto dst = t.Out<uint8_t>(0);
      for (int b = 0; b < dst.bands(); ++b) {
        for (int y = 0; y < dst.rows(); ++y) {
          const T* s = src.Row(b, y);
          uint8_t* d = dst.Row(b, y);
          for (int x = 0; x < dst.cols(); ++x) d[x] = is_nodata(s[x]) ? 1 : 0;
        }
      }
    });
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
