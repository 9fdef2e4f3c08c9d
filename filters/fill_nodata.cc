// GDALFillNodata (GDAL 3.6, alg/rasterfill.cpp) on one tile.
//
// GDAL's algorithm, for a search distance d (n = floor(d)):
//  1. Top-down pass: for each pixel, the nearest valid pixel above it in its
//     column (itself included), if at most d rows up.
//  2. Bottom-up pass, the same from below (row y uses the info of row y+1,
//     i.e. strictly below); for each pixel to fill, step left and right one
//     column at a time (up to n columns, the bound shrinking every four steps
//     to the farthest quadrant found so far) and keep per quadrant (top-left,
//     bottom-left, top-right, bottom-right) the nearest of those column
//     candidates. Quadrants with a candidate at distance <= d are averaged
//     with weights 1 / distance, in double, rounded to float32.
//  3. Smoothing: `iterations` Jacobi passes of a 3x3 mean over the filled
//     pixels, reading valid and filled neighbours; the first and last image
//     rows are never smoothed.
//
// Why a tile with margin n + iterations gives exactly the whole-image
// result: a fill value depends only on valid pixels at most n columns and n
// rows away (candidates are at |dx| <= n by the step bound, and vertically
// within d by the column passes; GDAL may look one step or one row further,
// but such a candidate is at distance >= n + 1 > d: it can neither be used
// nor displace a nearer one, nor change the step bound's floor). The tile's
// passes start at its own edge, which only loses candidates more than n away
// from the stable window; clamping the column steps at the tile edge instead
// of the image edge only re-checks the edge column instead of columns more
// than n away (the window reaches n columns past the stable window, or is
// the image's edge). A smoothing pass moves information by one pixel, so
// the stable window needs fills `iterations` pixels around it, which need n
// more. Ties between equidistant candidates resolve by step order, the same
// in both. Hence the fill is computed only on the stable window grown by the
// iterations, and the margin's outer ring only feeds it.
//
// How it is computed here (fill_nodata_band.h): the same candidates in the
// same order of preference, with less work. The column passes are kept at
// the holes only (at a valid pixel they say "this pixel"), and the search
// takes each quadrant on its own, stopping when no candidate can be nearer;
// along a long run of holes in a row it follows the lower envelope of the
// candidates instead (fill_nodata_envelope.h), in time linear in the run.
// The tests compare every path with GDALFillNodata, ties included.
#include "eoscale/filters/fill_nodata.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/filters/sample.h"
#include "fill_nodata_band.h"

namespace eoscale::filters {
namespace {

using internal::BandFiller;
using internal::Region;
using internal::SizeExactly;

// Per-worker scratch: the working buffers of one tile, sized on each tile.
template <typename W>
struct FillScratch {
  std::vector<uint8_t> valid;  // w x h: 1 for a source pixel
  internal::BandScratch<W> band;
  // Smoothing only: the values, the filled pixels and the Jacobi buffers.
  std::vector<W> val, next;
  std::vector<uint8_t> filled, tmask;

  // What it holds (MapFilter::scratch_bytes bounds it).
  int64_t bytes() const {
    int64_t n = band.bytes();
    auto add = [&n](const auto& v) { n += static_cast<int64_t>(v.capacity() * sizeof(v[0])); };
    add(valid), add(val), add(next), add(filled), add(tmask);
    return n;
  }
};

// The bound of FillScratch<W> for a w x h input window: a byte mask per
// pixel, the band's buffers, and with smoothing two value planes and two
// more byte masks. Every buffer is reserved to its exact size (never grown
// by a doubling), so that a tile never holds more than this.
template <typename W>
int64_t FillScratchBound(bool smoothing, int64_t w, int64_t h) {
  const int64_t per_pixel = 1 + (smoothing ? 2 * static_cast<int64_t>(sizeof(W)) + 2 : 0);
  return w * h * per_pixel + internal::BandScratch<W>::Bound(w, h);
}

// The conversion GDAL applies when it writes float32 values to an integer
// band (GDALCopyWord in GDAL 3.6: add +-0.5 in float, clamp, truncate; NaN
// becomes the lowest value). Checked against GDAL by the tests for 8- and
// 16-bit types.
template <typename T, typename W>
T StoreLikeGdal(W v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return std::numeric_limits<T>::lowest();
    const W rounded = v >= W{0} ? v + W{0.5} : v - W{0.5};
    const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    const double hi = static_cast<double>(std::numeric_limits<T>::max());
    return static_cast<T>(std::clamp(static_cast<double>(rounded), lo, hi));
  }
}

// Step 3 over region `r` of the w x h window: `iterations` Jacobi passes over
// the filled pixels, reading pixels that are valid or filled. `top_row` and
// `bottom_row` are the window rows of the image's first and last rows (or out
// of [0, h) when the tile does not reach them). `tmask` and `next` are
// working buffers; `val` may come back swapped with `next`.
//
// The loops go through raw pointers held in locals: through the vectors,
// every uint8_t store could, as far as the compiler knows, move another
// vector's storage, so it would reload every pointer at each store.
template <typename W>
void Smooth(int w, int h, const Region& r, int iterations, int top_row, int bottom_row, std::vector<W>& val_buffer,
            const std::vector<uint8_t>& valid_buffer, const std::vector<uint8_t>& filled_buffer,
            std::vector<uint8_t>& tmask_buffer, std::vector<W>& next_buffer) {
  const size_t n = valid_buffer.size();
  SizeExactly(tmask_buffer, n);
  const uint8_t* const valid = valid_buffer.data();
  const uint8_t* const filled = filled_buffer.data();
  uint8_t* const tmask = tmask_buffer.data();
  for (size_t i = 0; i < n; ++i) tmask[i] = valid[i] | filled[i];
  for (int it = 0; it < iterations; ++it) {
    next_buffer = val_buffer;
    const W* const val = val_buffer.data();
    W* const next = next_buffer.data();
    for (int y = r.y0; y < r.y1; ++y) {
      if (y == top_row || y == bottom_row) continue;
      const size_t row = static_cast<size_t>(y) * w;
      for (int x = r.x0; x < r.x1; ++x) {
        if (!filled[row + x]) continue;
        double sum = 0.0, weight = 0.0;
        // GDAL's order: previous, this, next line; left, centre, right.
        for (int dy = -1; dy <= 1; ++dy) {
          const int yy = y + dy;
          if (yy < 0 || yy >= h) continue;
          const size_t nrow = static_cast<size_t>(yy) * w;
          for (int dx = -1; dx <= 1; ++dx) {
            const int xx = x + dx;
            if (xx < 0 || xx >= w || !tmask[nrow + xx]) continue;
            sum += static_cast<double>(val[nrow + xx]);
            weight += 1.0;
          }
        }
        next[row + x] = static_cast<W>(sum / weight);
      }
    }
    std::swap(val_buffer, next_buffer);
  }
}

template <typename T>
void FillTile(const MapTile& t, const FillNodataOptions& o) {
  using W = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const auto src = t.In<T>(0);
  const auto dst = t.Out<T>(0);
  // The working window is the whole input tile: window (y, x) is tile
  // (y - top, x - left).
  const int top = src.top(), left = src.left();
  const int w = left + src.cols() + src.right(), h = top + src.rows() + src.bottom();
  const int s = o.smoothing_iterations;
  const Region r{std::max(0, left - s), std::max(0, top - s), std::min(w, left + dst.cols() + s),
                 std::min(h, top + dst.rows() + s)};
  const int top_row = top - t.tile.window.y;  // the window rows of the image's first and last rows
  const int bottom_row = t.input_profiles[0].height - 1 - (t.tile.window.y - top);
  const size_t pixels = static_cast<size_t>(w) * h;
  FillScratch<W>& scratch = t.GetScratch<FillScratch<W>>();
  SizeExactly(scratch.valid, pixels);
  if (s > 0) {
    SizeExactly(scratch.val, pixels);
    SizeExactly(scratch.filled, pixels);
  }
  uint8_t* const valid = scratch.valid.data();
  const NodataTest<T> is_nodata(t.input_profiles[0].nodata);
  const int64_t stride = src.row_stride();

  for (int b = 0; b < src.bands(); ++b) {
    const T* const base = src.Row(b, -top) - left;  // window (0, 0)
    if (t.inputs.size() > 1) {
      const ConstView& mask = t.inputs[1];
      const int mb = mask.bands() == 1 ? 0 : b;
      DispatchPixelType(mask.type(), [&]<typename M>() {
        const auto m = t.In<M>(1);  // same window as the image
        for (int y = 0; y < h; ++y) {
          const M* row = m.Row(mb, y - top) - left;
          uint8_t* ok = valid + static_cast<size_t>(y) * w;
          for (int x = 0; x < w; ++x) ok[x] = row[x] == M{0} ? 1 : 0;
        }
      });
    } else {
      for (int y = 0; y < h; ++y) {
        const T* row = base + y * stride;
        uint8_t* ok = valid + static_cast<size_t>(y) * w;
        for (int x = 0; x < w; ++x) ok[x] = is_nodata(row[x]) ? 0 : 1;
      }
    }
    BandFiller<T, W> filler(w, h, o.max_search_distance, r, base, stride, valid, scratch.band);
    filler.ColumnPasses();
    if (s == 0) {
      // The region is the stable window: copy it, then write the fills.
      for (int y = 0; y < dst.rows(); ++y) std::copy_n(src.Row(b, y), dst.cols(), dst.Row(b, y));
      filler.Interpolate([&](int x, int y, W v) { dst.Row(b, y - top)[x - left] = StoreLikeGdal<T>(v); });
      continue;
    }
    W* const val = scratch.val.data();
    uint8_t* const filled = scratch.filled.data();
    for (int y = 0; y < h; ++y) {
      const T* row = base + y * stride;
      W* v = val + static_cast<size_t>(y) * w;
      for (int x = 0; x < w; ++x) v[x] = static_cast<W>(row[x]);
    }
    std::fill_n(filled, pixels, uint8_t{0});
    filler.Interpolate([&](int x, int y, W v) {
      const size_t i = static_cast<size_t>(y) * w + x;
      // GDAL writes the fills to an integer band, then smooths what it
      // reads back.
      val[i] = std::is_floating_point_v<T> ? v : static_cast<W>(StoreLikeGdal<T>(v));
      filled[i] = 1;
    });
    Smooth(w, h, r, s, top_row, bottom_row, scratch.val, scratch.valid, scratch.filled, scratch.tmask, scratch.next);
    for (int y = 0; y < dst.rows(); ++y) {
      const size_t row = static_cast<size_t>(y + top) * w + left;
      const uint8_t* const f = scratch.filled.data() + row;
      const W* const v = scratch.val.data() + row;
      const T* orig = src.Row(b, y);
      T* d = dst.Row(b, y);
      for (int x = 0; x < dst.cols(); ++x) d[x] = f[x] ? StoreLikeGdal<T>(v[x]) : orig[x];
    }
  }
}

}  // namespace

MapFilter FillNodata(FillNodataOptions options) {
  MapFilter f;
  f.name = "fill nodata";
  f.num_outputs = 1;
  static constexpr int kMaxDistance = std::numeric_limits<int>::max() / 4;  // margins in int, with room
  const bool valid_options = std::isfinite(options.max_search_distance) && options.max_search_distance > 0 &&
                             options.smoothing_iterations >= 0 && options.max_search_distance < kMaxDistance &&
                             options.smoothing_iterations < kMaxDistance;
  f.margin = valid_options ? static_cast<int>(std::floor(options.max_search_distance)) + options.smoothing_iterations
                           : 0;
  f.profiles = [valid_options, options](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    if (!valid_options) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fill nodata: max_search_distance ", options.max_search_distance, " must be > 0 and < ", kMaxDistance,
          ", smoothing_iterations ", options.smoothing_iterations, " >= 0 and < ", kMaxDistance));
    }
    if (in.size() > 2) {
      return absl::InvalidArgumentError(absl::StrCat("fill nodata: ", in.size(), " inputs, expected an image and "
                                                     "optionally a mask"));
    }
    if (in.size() == 2 && in[1].bands != 1 && in[1].bands != in[0].bands) {
      return absl::InvalidArgumentError(
          absl::StrCat("fill nodata: a mask of ", in[1].bands, " bands for an image of ", in[0].bands));
    }
    return std::vector<Profile>{in[0]};
  };
  f.scratch_bytes = [smoothing = options.smoothing_iterations > 0](absl::Span<const Profile> in, int w, int h) {
    return in[0].type == PixelType::kF64 ? FillScratchBound<double>(smoothing, w, h)
                                         : FillScratchBound<float>(smoothing, w, h);
  };
  f.fn = [options](const MapTile& t) -> absl::Status {
    DispatchPixelType(t.inputs[0].type(), [&]<typename T>() { FillTile<T>(t, options); });
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
