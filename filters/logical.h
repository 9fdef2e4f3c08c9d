// LogicalAnd / LogicalOr / LogicalNot: boolean algebra on masks.
#ifndef EOSCALE_FILTERS_LOGICAL_H_
#define EOSCALE_FILTERS_LOGICAL_H_

#include "eoscale/graph/filter.h"

namespace eoscale::filters {

// N images with the same band count (any pixel type; non-zero is true,
// NaN included) -> a uint8 image of 0/1 with that band count: band by band,
// true where every input is true (And) or some input is (Or). Output
// profile: the first input's with type u8 and no nodata. Margin 0. Errors
// (at Map time): inputs with different band counts.
MapFilter LogicalAnd();
MapFilter LogicalOr();

// One image -> a uint8 image of 0/1: 1 where the sample is zero. Errors (at
// Map time): not exactly one input.
MapFilter LogicalNot();

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_LOGICAL_H_
