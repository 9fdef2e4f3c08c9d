// Statistics: count, min, max, mean and standard deviation of every band,
// skipping nodata; exact sums, so bitwise the same for every tiling and
// worker count.
#ifndef EOSCALE_FILTERS_STATISTICS_H_
#define EOSCALE_FILTERS_STATISTICS_H_

#include <cstdint>
#include <limits>
#include <vector>

#include "eoscale/filters/exact_sum.h"
#include "eoscale/graph/filter.h"

namespace eoscale::filters {

// The statistics of one band. min, max, mean and stddev are NaN when
// count == 0. The sums are kept (exact) so that two partial results combine
// without loss.
struct BandStatistics {
  int64_t count = 0;  // samples that are not nodata (nor NaN)
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
  double mean = std::numeric_limits<double>::quiet_NaN();
  // Population standard deviation (ddof = 0: numpy's std, GDAL's STDDEV).
  double stddev = std::numeric_limits<double>::quiet_NaN();
  ExactSum sum;          // sum of the samples
  ExactSum sum_squares;  // sum of their squares

  // Folds `o` into this and recomputes the derived fields.
  void Merge(const BandStatistics& o);
  // Recomputes mean and stddev from count and the sums.
  void Finish();
};

// N images -> one BandStatistics per band, the bands of all inputs in
// order. A sample is skipped when it equals its image's nodata (compared in
// the image's type) or is NaN; infinities count (they make the mean and
// stddev infinite or NaN). The sum and the sum of squares are exact (the
// square of a double is split exactly with an FMA; exact unless it
// overflows, |x| > 1e154), so the mean and standard deviation are functions
// of the multiset of samples only: there is no floating-point combine (a
// Welford/Chan combine of per-tile moments, folded in tile order, would
// already be worker-count independent, but its rounding depends on the
// tiling). The mean and variance are derived in double-double arithmetic.
// Margin 0.
ReduceFilter<std::vector<BandStatistics>> Statistics();

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_STATISTICS_H_
