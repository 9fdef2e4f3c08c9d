// NodataMask: where an image has no data (EOScale pipeline's first step).
#ifndef EOSCALE_FILTERS_NODATA_MASK_H_
#define EOSCALE_FILTERS_NODATA_MASK_H_

#include "eoscale/graph/filter.h"

namespace eoscale::filters {

// One image -> a uint8 image with the same bands: 1 where the sample equals
// the profile's nodata (compared in the image's type, as GDAL does), and
// for floating-point images also where it is NaN; 0 elsewhere. An image
// without nodata gives 0 everywhere (NaN aside). The output profile is the
// input's with type u8 and no nodata (as EOScale's nodata_profile).
// Margin 0.
MapFilter NodataMask();

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_NODATA_MASK_H_
