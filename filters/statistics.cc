#include "eoscale/filters/statistics.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>

#include "eoscale/filters/sample.h"

namespace eoscale::filters {
namespace {

// Double-double helpers: a value is hi + lo.
struct DD {
  double hi;
  double lo;
};

DD TwoSum(double a, double b) {
  const double s = a + b;
  const double bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}

DD Renorm(double hi, double lo) { return TwoSum(hi, lo); }

DD Add(DD a, DD b) {
  DD s = TwoSum(a.hi, b.hi);
  return Renorm(s.hi, s.lo + a.lo + b.lo);
}

DD Mul(DD a, DD b) {
  const double p = a.hi * b.hi;
  const double e = std::fma(a.hi, b.hi, -p);
  return Renorm(p, e + a.hi * b.lo + a.lo * b.hi);
}

DD Div(DD a, double n) {
  const double q1 = a.hi / n;
  const double r = std::fma(-q1, n, a.hi) + a.lo;
  return Renorm(q1, r / n);
}

template <typename T>
void Accumulate(const ConstTileView<T>& v, int band, const NodataTest<T>& is_nodata, BandStatistics* s) {
  // The square of a sample is exact in a double for types of at most 24
  // significant bits; wider ones need the FMA's error term.
  constexpr bool kExactSquare = sizeof(T) <= 2 || std::is_same_v<T, float>;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  int64_t n = 0;
  for (int y = 0; y < v.rows(); ++y) {
    const T* r = v.Row(band, y);
    for (int x = 0; x < v.cols(); ++x) {
      if (is_nodata(r[x])) continue;
      const double d = static_cast<double>(r[x]);
      ++n;
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      s->sum.Add(d);
      const double p = d * d;
      s->sum_squares.Add(p);
      if constexpr (!kExactSquare) {
        const double e = std::fma(d, d, -p);
        if (e != 0.0) s->sum_squares.Add(e);
      }
    }
  }
  if (n > 0) {
    s->count = n;
    s->min = lo;
    s->max = hi;
  }
}

}  // namespace

void BandStatistics::Finish() {
  if (count == 0) {
    mean = stddev = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  const double n = static_cast<double>(count);
  DD s, q;
  sum.Value(&s.hi, &s.lo);
  sum_squares.Value(&q.hi, &q.lo);
  const DD m = Div(s, n);
  mean = m.hi;
  if (!std::isfinite(s.hi)) {  // infinite samples: inf - inf
    stddev = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  if (!std::isfinite(q.hi)) {  // squares beyond the double range
    stddev = std::numeric_limits<double>::infinity();
    return;
  }
  // M2 = sum(x^2) - sum(x) * mean, then var = M2 / n.
  const DD sm = Mul(s, m);
  const DD m2 = Add(q, {-sm.hi, -sm.lo});
  stddev = std::sqrt(std::max(m2.hi, 0.0) / n);
}

void BandStatistics::Merge(const BandStatistics& o) {
  if (o.count == 0) return;
  if (count == 0) {
    *this = o;
    return;
  }
  count += o.count;
  min = std::min(min, o.min);
  max = std::max(max, o.max);
  sum.Add(o.sum);
  sum_squares.Add(o.sum_squares);
  Finish();
}

ReduceFilter<std::vector<BandStatistics>> Statistics() {
  ReduceFilter<std::vector<BandStatistics>> f;
  f.name = "statistics";
  f.map = [](const ReduceTile& t) -> absl::StatusOr<std::vector<BandStatistics>> {
    std::vector<BandStatistics> out;
    for (size_t i = 0; i < t.inputs.size(); ++i) {
      DispatchPixelType(t.inputs[i].type(), [&]<typename T>() {
        const NodataTest<T> is_nodata(t.input_profiles[i].nodata);
        const auto v = t.In<T>(i);
        for (int b = 0; b < v.bands(); ++b) {
          BandStatistics s;
          Accumulate(v, b, is_nodata, &s);
          s.Finish();
          out.push_back(std::move(s));
        }
      });
    }
    return out;
  };
  f.combine = [](std::vector<BandStatistics> a, std::vector<BandStatistics> b) {
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) a[i].Merge(b[i]);
    return a;
  };
  return f;
}

}  // namespace eoscale::filters
