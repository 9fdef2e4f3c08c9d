// Cast: converts every band of an image to another pixel type (C++ static_cast
// semantics; floats to integers truncate toward zero, out-of-range values
// saturate at the type's limits).
#ifndef EOSCALE_FILTERS_CAST_H_
#define EOSCALE_FILTERS_CAST_H_

#include "eoscale/graph/filter.h"

namespace eoscale::filters {

MapFilter Cast(PixelType to);

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_CAST_H_
