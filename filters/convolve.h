// Convolve: 2-D convolution of every band with a given kernel
// (scipy.ndimage.convolve semantics), with scipy.ndimage's border modes.
#ifndef EOSCALE_FILTERS_CONVOLVE_H_
#define EOSCALE_FILTERS_CONVOLVE_H_

#include <optional>
#include <vector>

#include "eoscale/core/pixel_type.h"
#include "eoscale/filters/border.h"
#include "eoscale/graph/filter.h"

namespace eoscale::filters {

struct ConvolveOptions {
  BorderMode mode = BorderMode::kReflect;  // scipy's default
  double cval = 0.0;                       // the constant of kConstant
  // Output pixel type; the input's when unset (scipy's default).
  std::optional<PixelType> output_type;
};

// One image -> one image: for a kernel w of `rows` x `cols` (row-major,
// any size, even ones too), out(y, x) = sum over (i, j) of
// w(i, j) * in(y + rows/2 - i, x + cols/2 - j), as scipy.ndimage.convolve:
// accumulated in double in scipy's order (the flipped kernel, row-major),
// weights of magnitude <= DBL_EPSILON skipped (scipy's footprint), then
// converted to the output type with Cast's semantics. Margin:
// max(rows, cols) / 2 (the whole image for kWrap). Errors (at Map time):
// rows or cols < 1, weights.size() != rows * cols.
MapFilter Convolve(std::vector<double> weights, int rows, int cols, ConvolveOptions options = {});

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_CONVOLVE_H_
