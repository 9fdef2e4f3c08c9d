// Uniform: the mean over a size x size box (scipy.ndimage.uniform_filter with
// its default reflect border), band by band.
#ifndef EOSCALE_FILTERS_UNIFORM_H_
#define EOSCALE_FILTERS_UNIFORM_H_

#include "eoscale/graph/filter.h"

namespace eoscale::filters {

// One image -> one image of the same profile. As scipy: separable, rows
// (axis 0) then columns (axis 1); each 1-D pass sums the window
// [i - size/2, i + size - size/2 - 1] in double, divides by size and stores
// in the image's type (so a float32 image keeps a float32 intermediate, and
// integer types truncate as scipy's C cast does); windows that cross the
// image border are completed by reflection (d c b a | a b c d). Each sum is
// taken afresh in window order rather than as scipy's running sum, so the
// result does not depend on where a tile starts: it can differ from scipy's
// by the rounding of the running sum (last bit of a double, which almost
// never reaches a float32). Margin: size / 2. Errors (at Map time): size < 1.
MapFilter Uniform(int size);

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_UNIFORM_H_
