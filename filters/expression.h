// Expression: band math over the bands of N images, in the syntax of Orfeo
// ToolBox's BandMath (muparser's), compiled once and evaluated a row chunk
// at a time (every operation runs over an array of pixels, not pixel by
// pixel through an interpreter). Output: one band of the chosen type.
//
//   auto water = filters::Expression(
//       "(im1b2 - im1b4) / (im1b2 + im1b4 + 0.001) > 0 && "
//       "(im2b2 - im2b4) / (im2b2 + im2b4 + 0.001) > 0", PixelType::kU8);
//   auto out = ctx->Map({date1, date2}, *water);
//
// Syntax (docs/expression.md has the full list):
//  - variables: imIbJ (band J of input I, both from 1), idxX, idxY (the
//    pixel's column and row in the image, from 0);
//  - numbers (2, 2.5, .5, 3e-4) and the constants pi, e, euler, log2e,
//    log10e, ln2, ln10, _pi, _e;
//  - operators, loosest first: ?: ; and, or (OTB's words) ; || ; && ;
//    < > <= >= == != ; + - ; * / ; unary - + ; ^ (right to left);
//  - functions: abs sqrt exp log ln log2 log10 sin cos tan asin acos atan
//    sinh cosh tanh asinh acosh atanh sign rint atan2 ndvi(r, nir) pow, and
//    min max sum avg of one or more arguments.
// Arithmetic is in double precision, as in BandMath; comparisons and logical
// operators give 1 or 0; any non-zero value (NaN included) is true. The
// result is converted to the output type as Cast does (floats to integers:
// NaN -> 0, truncated toward zero, saturated at the type's limits).
#ifndef EOSCALE_FILTERS_EXPRESSION_H_
#define EOSCALE_FILTERS_EXPRESSION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eoscale/core/pixel_type.h"
#include "eoscale/graph/filter.h"

namespace eoscale::filters {

struct ExpressionOptions {
  // The node's name in errors, stats and the DOT dump.
  std::string name = "expression";
  // input_bands[i] lists the bands of the file that input i+1 was opened with
  // (the `bands` argument of Context::Open), so that imIbJ keeps meaning
  // "band J of the file" when only some bands are read. An input with no
  // entry (or an empty one) holds all its bands in file order.
  std::vector<std::vector<int>> input_bands;
  // The output's nodata value; none by default.
  std::optional<double> nodata;
};

// Compiles `expr` into a Map with one output band of type `out`, of the
// first input's size, geotransform and CRS. Margin 0.
//
// Errors, at this call (nothing has run): a syntax error, an unknown name or
// a wrong number of arguments, as InvalidArgument
//   "expression 'im1b2 + * 3': unexpected operator '*' at position 8"
// (positions count characters of `expr` from 0). When the Map is added to a
// context, its profile function rejects a reference to an input or band
// that does not exist (im3b1 with 2 inputs, im1b5 on a 4-band image, a band
// not in input_bands).
//
// The returned filter is immutable and may run on any number of threads.
absl::StatusOr<MapFilter> Expression(std::string expr, PixelType out = PixelType::kF32,
                                     ExpressionOptions options = {});

// The bands each input's variables reference: element i lists the bands of
// input i+1 named by `expr`, ascending and without repeats; the vector has
// as many elements as the highest input referenced (an input that is never
// referenced gets an empty list). Pass element i as Context::Open's `bands`
// to read only those, and the whole result as ExpressionOptions::input_bands.
// Errors: as for Expression's syntax errors.
absl::StatusOr<std::vector<std::vector<int>>> ExpressionBands(const std::string& expr);

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_EXPRESSION_H_
