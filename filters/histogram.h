// Histogram: counts of samples per bin, per band (numpy.histogram with
// explicit bin edges).
#ifndef EOSCALE_FILTERS_HISTOGRAM_H_
#define EOSCALE_FILTERS_HISTOGRAM_H_

#include <cstdint>
#include <vector>

#include "eoscale/graph/filter.h"

namespace eoscale::filters {

// Counts per band (the bands of all inputs in order), each with
// edges.size() - 1 bins.
using HistogramCounts = std::vector<std::vector<int64_t>>;

// N images -> for every band, how many samples fall in each bin
// [edges[i], edges[i+1]), the last bin closed [edges[n-1], edges[n]] (numpy's
// convention); samples outside [edges.front(), edges.back()] are not counted,
// nor nodata samples (equal to their image's nodata, or NaN). Integer
// counts: exact for every tiling. Margin 0.
// Errors (when the reduction runs): fewer than 2 edges, an edge that is not
// finite, edges that decrease.
ReduceFilter<HistogramCounts> Histogram(std::vector<double> edges);

// `bins` + 1 evenly spaced edges from lo to hi (numpy.linspace's values:
// lo + i * ((hi - lo) / bins), the last one exactly hi).
std::vector<double> UniformEdges(double lo, double hi, int bins);

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_HISTOGRAM_H_
