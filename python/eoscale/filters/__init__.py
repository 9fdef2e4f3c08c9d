"""Built-in filters (native code: they run on the engine's threads without the GIL).

Each returns a Filter to pass to Context.map (min_max: a ReduceFilter for Context.reduce):

    water = ctx.map([img], eoscale.filters.expression("im1b1 > 0.2", dtype="uint8"))[0]
"""

from .._eoscale import Filter, ReduceFilter
from .._eoscale.filters import (cast, concatenate, expression, expression_bands, fill_nodata, logical_and,
                               logical_not, logical_or, min_max, nodata_mask, normalized_difference, threshold,
                               uniform)

__all__ = ["Filter", "ReduceFilter", "cast", "concatenate", "expression", "expression_bands", "fill_nodata",
           "logical_and", "logical_not", "logical_or", "min_max", "nodata_mask", "normalized_difference", "ndwi",
           "ndvi", "threshold", "uniform"]


def ndwi(green=2, nir=4, epsilon=0.0, name="ndwi"):
    """(G - NIR) / (G + NIR + epsilon) as float32; NaN where G or NIR is nodata.

    Bands are numbered from 1 across the bands of all the map's inputs, as they were opened: a whole
    Sentinel-2-like image has green=2, nir=4; open(path, bands=[2, 4]) gives green=1, nir=2."""
    return normalized_difference(green, nir, epsilon, name=name)


def ndvi(nir=4, red=3, epsilon=0.0, name="ndvi"):
    """(NIR - R) / (NIR + R + epsilon) as float32; bands as for ndwi."""
    return normalized_difference(nir, red, epsilon, name=name)
