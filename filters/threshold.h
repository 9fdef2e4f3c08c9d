// Threshold: a comparison of every sample with a value, as a uint8 mask.
#ifndef EOSCALE_FILTERS_THRESHOLD_H_
#define EOSCALE_FILTERS_THRESHOLD_H_

#include "eoscale/graph/filter.h"

namespace eoscale::filters {

enum class CompareOp { kGreater, kGreaterEqual, kLess, kLessEqual, kEqual, kNotEqual };

// One image -> a uint8 image with the same bands: 1 where `sample op value`
// holds (compared in double), 0 elsewhere. NaN compares as IEEE says (false,
// except for kNotEqual); nodata samples are compared like any other. Output
// profile: the input's with type u8 and no nodata. Margin 0.
MapFilter Threshold(double value, CompareOp op = CompareOp::kGreater);

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_THRESHOLD_H_
