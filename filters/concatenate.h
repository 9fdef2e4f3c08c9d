// Concatenate: the bands of N images, in input order, as one image (EOScale's
// concatenate_images).
#ifndef EOSCALE_FILTERS_CONCATENATE_H_
#define EOSCALE_FILTERS_CONCATENATE_H_

#include "eoscale/graph/filter.h"

namespace eoscale::filters {

// N images (same size, any pixel types and band counts) -> one image whose
// bands are the inputs' bands in order, converted to `out` with Cast's
// semantics. The output profile is the first input's (geotransform, CRS,
// writer options; its nodata if `out` can hold it) with the summed band
// count and type `out`. Margin 0.
MapFilter Concatenate(PixelType out);

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_CONCATENATE_H_
