// NormalizedDifference: (a - b) / (a + b) of two bands, the shape of NDWI
// (green, NIR) and NDVI (NIR, red).
#ifndef EOSCALE_FILTERS_NORMALIZED_DIFFERENCE_H_
#define EOSCALE_FILTERS_NORMALIZED_DIFFERENCE_H_

#include "eoscale/graph/filter.h"

namespace eoscale::filters {

// N images -> one float32 band: (A - B) / (A + B + epsilon), computed in
// float32 (IEEE: 0 / 0 is NaN, x / 0 is +-inf), where A is band `band_a`
// and B band `band_b`, numbered from 1 across the bands of all inputs in
// order (so one 4-band image, or two 1-band images, both work). A pixel
// where A or B is its image's nodata (or NaN) is NaN. Output profile: the
// first input's with 1 band, float32, and nodata NaN if an input has a
// nodata (none otherwise). Margin 0. Errors (at Map time): a band number
// outside [1, total bands].
MapFilter NormalizedDifference(int band_a, int band_b, float epsilon = 0.0f);

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_NORMALIZED_DIFFERENCE_H_
