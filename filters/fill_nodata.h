// FillNodata: fills nodata pixels by inverse-distance weighting of the
// nearest valid pixels found by a four-quadrant search, then optionally
// smooths the filled pixels: GDAL's GDALFillNodata (rasterio.fill.fillnodata,
// which EOScale's pipeline example runs on every tile).
//
// GDALFillNodata over a whole image only looks max_search_distance pixels
// away (plus one pixel per smoothing iteration), so with that margin the
// tile computation reproduces it exactly (see fill_nodata.cc for the
// argument): bitwise for float32 images, and for 8- and 16-bit integer
// images, whatever the tiling.
#ifndef EOSCALE_FILTERS_FILL_NODATA_H_
#define EOSCALE_FILTERS_FILL_NODATA_H_

#include "eoscale/graph/filter.h"

namespace eoscale::filters {

struct FillNodataOptions {
  // GDAL's dfMaxSearchDist, in pixels. Must be > 0 (GDAL's 0, "the whole
  // image", has no bounded margin).
  double max_search_distance = 100.0;
  // GDAL's nSmoothingIterations: 3x3 mean filter passes over the filled
  // pixels. >= 0.
  int smoothing_iterations = 0;
};

// One or two images -> one image with the first input's profile.
//  - One input: the pixels to fill are those equal to the profile's nodata
//    (or NaN, for floating-point images).
//  - Two inputs: the second is a mask (any type, 1 band or as many bands as
//    the image) whose non-zero pixels are the ones to fill: EOScale's
//    pipeline passes its NodataMask output.
// Every band is filled on its own. Pixels farther than the search distance
// from any valid pixel keep their value. As GDAL, values are interpolated in
// float32 and filled pixels of integer images are rounded half away from
// zero (in float32, as GDAL) and clamped; float64 images are interpolated in float64
// (GDAL goes through float32, rounding every pixel of the image) and pixels
// that are not filled are always left untouched.
// Margin: floor(max_search_distance) + smoothing_iterations.
// Errors (at Map time): max_search_distance <= 0, not finite or not below
// 2^29 - 1 (margins are ints), smoothing_iterations negative or not below
// that, more than two inputs, a mask whose band count is neither 1 nor the
// image's.
MapFilter FillNodata(FillNodataOptions options = {});

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_FILL_NODATA_H_
