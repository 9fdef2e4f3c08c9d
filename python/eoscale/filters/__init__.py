"""Built-in filters (native code: they run on the engine's threads without the GIL).

Each returns a Filter to pass to Context.map (min_max, statistics, histogram: a ReduceFilter for
Context.reduce):

    water = ctx.map([img], eoscale.filters.expression("im1b1 > 0.2", dtype="uint8"))[0]
"""

from .._eoscale import Filter, ReduceFilter
from .._eoscale.filters import (cfunc, cast, concatenate, convolve, expression, expression_bands, fill_nodata,
                               histogram, kernel_reduce, logical_and, logical_not, logical_or, min_max, nodata_mask,
                               normalized_difference, statistics, threshold, uniform)

# The native generic kernel is `kernel_reduce`: `eoscale.filters.generic_kernel` is the drop-in's module
# (EOScale's generic_kernel_filter), which importing it would bind over a function of that name.
__all__ = ["Filter", "ReduceFilter", "KERNEL_SIGNATURE", "cfunc", "numba_kernel", "cast", "concatenate", "convolve",
           "expression", "expression_bands", "fill_nodata", "histogram", "kernel_reduce", "logical_and",
           "logical_not", "logical_or", "min_max", "nodata_mask", "normalized_difference", "ndwi", "ndvi",
           "statistics", "threshold", "uniform"]


def ndwi(green=2, nir=4, epsilon=0.0, name="ndwi"):
    """(G - NIR) / (G + NIR + epsilon) as float32; NaN where G or NIR is nodata.

    Bands are numbered from 1 across the bands of all the map's inputs, as they were opened: a whole
    Sentinel-2-like image has green=2, nir=4; open(path, bands=[2, 4]) gives green=1, nir=2."""
    return normalized_difference(green, nir, epsilon, name=name)


def ndvi(nir=4, red=3, epsilon=0.0, name="ndvi"):
    """(NIR - R) / (NIR + R + epsilon) as float32; bands as for ndwi."""
    return normalized_difference(nir, red, epsilon, name=name)


# The signature of a native tile function (numba's spelling, for @numba.cfunc):
#   int32 kernel(void** inputs, void** outputs, const int64* dims)
KERNEL_SIGNATURE = "int32(CPointer(voidptr), CPointer(voidptr), CPointer(int64))"


def numba_kernel(kernel, dtype="float32", count=1, num_outputs=1, margin=0, name=None):
    """A numba `cfunc` (or a C function's address) as a native filter: it runs on the engine's threads
    without the GIL (compile it with nopython; it must not call Python).

    kernel(inputs, outputs, dims) gets one C-contiguous (bands, rows, cols) buffer per input (the tile with
    its margin) and per output (the stable window, not initialised: write every sample), and dims =
    [n_inputs, n_outputs, (bands, rows, cols) of each input, then of each output, x, y, width, height of
    the stable window, top, right, bottom, left margins]; it returns 0, or nonzero to fail the run. The
    outputs have `dtype` and `count` bands, the rest of their profile from the first input (no nodata).

        @numba.cfunc(filters.KERNEL_SIGNATURE, nopython=True)
        def ndwi(ins, outs, dims):
            b, r, c = dims[2], dims[3], dims[4]
            a = numba.carray(ins[0], (b, r, c), dtype=np.float32)
            o = numba.carray(outs[0], (1, r, c), dtype=np.float32)
            for y in range(r):
                for x in range(c):
                    o[0, y, x] = (a[1, y, x] - a[3, y, x]) / (a[1, y, x] + a[3, y, x])
            return 0
        out = ctx.map(img, filters.numba_kernel(ndwi))[0]
    """
    address = kernel if isinstance(kernel, int) else kernel.address
    if name is None:
        name = getattr(kernel, "__name__", None) or getattr(getattr(kernel, "_pyfunc", None), "__name__", "cfunc")
    return cfunc(address, dtype, count=count, num_outputs=num_outputs, margin=margin, name=name, keep_alive=kernel)
