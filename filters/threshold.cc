#include "eoscale/filters/threshold.h"

#include <vector>

#include "eoscale/core/row_loop.h"

namespace eoscale::filters {
namespace {

template <typename T, typename Cmp>
EOSCALE_ROW_LOOP void ThresholdRow(const T* __restrict s, uint8_t* __restrict d, int n, Cmp cmp) {
  for (int x = 0; x < n; ++x) d[x] = cmp(static_cast<double>(s[x])) ? 1 : 0;
}

template <typename T, typename Cmp>
void ThresholdTile(const MapTile& t, Cmp cmp) {
  const auto src = t.In<T>(0);
  const auto dst = t.Out<uint8_t>(0);
  for (int b = 0; b < dst.bands(); ++b) {
    for (int y = 0; y < dst.rows(); ++y) ThresholdRow<T>(src.Row(b, y), dst.Row(b, y), dst.cols(), cmp);
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
