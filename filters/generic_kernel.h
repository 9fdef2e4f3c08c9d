// GenericKernel: any reduction over the (2r+1) x (2r+1) window around each
// pixel, band by band, with scipy.ndimage's border modes (EOScale's
// generic_kernel_filter, which runs scipy.ndimage.generic_filter per tile).
//
// Inside the image the window reads the real neighbours (the margin r brings
// them into every tile); the border mode only completes windows that cross
// the image border, so the result is the same for every tiling and equals
// generic_filter over the whole image. (Lower the MapFilter's margin by hand
// and windows are completed at each tile's edge instead, as EOScale does
// with a margin too small: tile-dependent, the ported EOScale test shows it.)
#ifndef EOSCALE_FILTERS_GENERIC_KERNEL_H_
#define EOSCALE_FILTERS_GENERIC_KERNEL_H_

#include <functional>
#include <span>

#include "eoscale/core/pixel_type.h"
#include "eoscale/filters/border.h"
#include "eoscale/graph/filter.h"

namespace eoscale::filters {

// Reduces the (2r+1)^2 values of one window, given in row-major window order
// (as generic_filter passes them), to one value. Called concurrently from
// worker threads: it must be thread-safe (a pure function is).
using KernelReduction = std::function<double(std::span<const double> window)>;

namespace kernel {
KernelReduction Sum();   // left to right, in double
KernelReduction Mean();  // Sum() / size
KernelReduction Min();   // NaN if any value is NaN (numpy's min)
KernelReduction Max();   // NaN if any value is NaN (numpy's max)
}  // namespace kernel

struct GenericKernelOptions {
  BorderMode mode = BorderMode::kConstant;  // EOScale's default
  double cval = 0.0;                        // the constant of kConstant
  PixelType output_type = PixelType::kF32;  // EOScale's default
};

// N images -> N images: output i is `reduce` over input i's windows, for
// every band, converted to `options.output_type` with Cast's semantics
// (EOScale rounds through the input type first; we convert once). Output
// profile: input i's with the output type (nodata kept if representable).
// Margin: `radius` (the whole image for kWrap, see border.h).
// Errors (at Map time): radius < 0, no reduction.
MapFilter GenericKernel(int radius, KernelReduction reduce, GenericKernelOptions options = {});

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_GENERIC_KERNEL_H_
