#include "eoscale/filters/min_max.h"

#include <algorithm>

namespace eoscale::filters {

ReduceFilter<MinMaxResult> MinMax() {
  ReduceFilter<MinMaxResult> f;
  f.name = "min max";
  f.map = [](const ReduceTile& t) -> absl::StatusOr<MinMaxResult> {
    MinMaxResult r;
    for (size_t i = 0; i < t.inputs.size(); ++i) {
      DispatchPixelType(t.inputs[i].type(), [&]<typename T>() {
        const auto v = t.In<T>(i);
        for (int b = 0; b < v.bands(); ++b) {
          for (int y = 0; y < v.rows(); ++y) {
            const T* row = v.Row(b, y);
            for (int x = 0; x < v.cols(); ++x) {
              const double d = static_cast<double>(row[x]);
              // Comparisons with NaN are false: NaN never becomes min or max.
              if (d < r.min) r.min = d;
              if (d > r.max) r.max = d;
            }
          }
        }
      });
    }
    return r;
  };
  f.combine = [](MinMaxResult a, MinMaxResult b) {
    return MinMaxResult{std::min(a.min, b.min), std::max(a.max, b.max)};
  };
  return f;
}

}  // namespace eoscale::filters
