#include "eoscale/filters/histogram.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "eoscale/filters/sample.h"

namespace eoscale::filters {
namespace {

absl::Status CheckEdges(const std::vector<double>& e) {
  if (e.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("histogram: ", e.size(), " edges, need 2 or more"));
  }
  for (size_t i = 0; i < e.size(); ++i) {
    if (!std::isfinite(e[i])) {
      return absl::InvalidArgumentError(absl::StrCat("histogram: edge ", i, " is not finite"));
    }
    if (i > 0 && e[i] < e[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat("histogram: edges decrease at ", i));
    }
  }
  return absl::OkStatus();
}

}  // namespace

ReduceFilter<HistogramCounts> Histogram(std::vector<double> edges) {
  ReduceFilter<HistogramCounts> f;
  f.name = "histogram";
  f.map = [edges = std::move(edges)](const ReduceTile& t) -> absl::StatusOr<HistogramCounts> {
    if (absl::Status s = CheckEdges(edges); !s.ok()) return s;
    const size_t bins = edges.size() - 1;
    const double lo = edges.front(), hi = edges.back();
    HistogramCounts out;
    for (size_t i = 0; i < t.inputs.size(); ++i) {
      DispatchPixelType(t.inputs[i].type(), [&]<typename T>() {
        const NodataTest<T> is_nodata(t.input_profiles[i].nodata);
        const auto v = t.In<T>(i);
        for (int b = 0; b < v.bands(); ++b) {
          std::vector<int64_t> counts(bins, 0);
          for (int y = 0; y < v.rows(); ++y) {
            const T* r = v.Row(b, y);
            for (int x = 0; x < v.cols(); ++x) {
              if (is_nodata(r[x])) continue;
              const double d = static_cast<double>(r[x]);
              if (!(d >= lo && d <= hi)) continue;
              size_t bin = static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), d) - edges.begin()) - 1;
              if (bin >= bins) bin = bins - 1;  // d == hi: the last bin is closed
              ++counts[bin];
            }
          }
          out.push_back(std::move(counts));
        }
      });
    }
    return out;
  };
  f.combine = [](HistogramCounts a, HistogramCounts b) {
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      for (size_t j = 0; j < a[i].size() && j < b[i].size(); ++j) a[i][j] += b[i][j];
    }
    return a;
  };
  return f;
}

std::vector<double> UniformEdges(double lo, double hi, int bins) {
  std::vector<double> e;
  if (bins < 1) return e;
  const double step = (hi - lo) / bins;
  for (int i = 0; i < bins; ++i) e.push_back(lo + i * step);
  e.push_back(hi);
  return e;
}

}  // namespace eoscale::filters
