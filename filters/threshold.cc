#include "eoscale/filters/threshold.h"

#include <vector>

namespace eoscale::filters {
namespace {

template <typename T, typename Cmp>
void ThresholdTile(const MapTile& t, Cmp cmp) {
  const auto src = t.In<T>(0);
  const auto dst = t.Out<uint8_t>(0);
  for (int b = 0; b < dst.bands(); ++b) {
    for (int y = 0; y < dst.rows(); ++y) {
      const T* s = src.Row(b, y);
      uint8_t* d = dst.Row(b, y);
      for (int x = 0; x < dst.cols(); ++x) d[x] = cmp(static_cast<double>(s[x])) ? 1 : 0;
    }
  }
}

}  // namespace

MapFilter Threshold(double value, CompareOp op) {
  MapFilter f;
  f.name = "threshold";
  f.num_outputs = 1;
  f.profiles = [](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    Profile p = in[0];
    p.type = PixelType::kU8;
    p.nodata.reset();
    return std::vector<Profile>{p};
  };
  f.fn = [value, op](const MapTile& t) {
    DispatchPixelType(t.inputs[0].type(), [&]<typename T>() {
      switch (op) {
        case CompareOp::kGreater: ThresholdTile<T>(t, [value](double v) { return v > value; }); break;
        case CompareOp::kGreaterEqual: ThresholdTile<T>(t, [value](double v) { return v >= value; }); break;
        case CompareOp::kLess: ThresholdTile<T>(t, [value](double v) { return v < value; }); break;
        case CompareOp::kLessEqual: ThresholdTile<T>(t, [value](double v) { return v <= value; }); break;
        case CompareOp::kEqual: ThresholdTile<T>(t, [value](double v) { return v == value; }); break;
        case CompareOp::kNotEqual: ThresholdTile<T>(t, [value](double v) { return v != value; }); break;
      }
    });
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
