// MinMax: the smallest and largest sample over N images (EOScale's
// minmax_filter).
#ifndef EOSCALE_FILTERS_MIN_MAX_H_
#define EOSCALE_FILTERS_MIN_MAX_H_

#include <limits>

#include "eoscale/graph/filter.h"

namespace eoscale::filters {

struct MinMaxResult {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  friend bool operator==(const MinMaxResult&, const MinMaxResult&) = default;
};

// N images -> the min and max over every sample of every band of every
// input. As EOScale, nodata samples count like any other (dsm.tif's min is
// its nodata, -32768); NaN samples are skipped (numpy would return NaN for
// the tile, and EOScale's fold of NaN depends on the tile order). When every
// sample is NaN, min = +inf and max = -inf. Margin 0.
ReduceFilter<MinMaxResult> MinMax();

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_MIN_MAX_H_
