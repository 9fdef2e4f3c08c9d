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
// of the image edge only re-checks the same candidate (a strict "nearer"
// test, so no change). A smoothing pass moves information by one pixel, so
// the stable window needs fills `iterations` pixels around it, which need n
// more. Ties between equidistant candidates resolve by step order, the same
// in both. Hence the fill is computed only on the stable window grown by the
// iterations, and the margin's outer ring only feeds it.
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

namespace eoscale::filters {
namespace {

// Where to compute fills, in the coordinates of the w x h working buffers
// (those of the whole input tile, margins included: tile coordinates plus
// the top and left margins): [x0, x1) x [y0, y1).
struct Region {
  int x0, y0, x1, y1;
};

// Per-worker scratch: the working buffers of one tile, sized on each tile.
template <typename W>
struct FillScratch {
  std::vector<uint8_t> valid;  // w x h: 1 for a source pixel
  std::vector<int> up, down;   // the column passes at the holes (ColumnPasses)
  // Smoothing only: the values, the filled pixels and the Jacobi buffers.
  std::vector<W> val, next;
  std::vector<uint8_t> filled, tmask;

  // What it holds (MapFilter::scratch_bytes bounds it).
  int64_t bytes() const {
    int64_t n = 0;
    auto add = [&n](const auto& v) { n += static_cast<int64_t>(v.capacity() * sizeof(v[0])); };
    add(valid), add(up), add(down), add(val), add(next), add(filled), add(tmask);
    return n;
  }
};

// The bound of FillScratch<W> for a w x h input window: a byte mask and two
// int planes of the column passes per pixel (they cover at most h rows);
// with smoothing, two value planes and two more byte masks. Every buffer is
// reserved to its exact size (never grown by a doubling), so that a tile
// never holds more than this.
int64_t FillScratchBound(int64_t value_bytes, bool smoothing, int64_t w, int64_t h) {
  const int64_t per_pixel = 1 + 2 * static_cast<int64_t>(sizeof(int)) + (smoothing ? 2 * value_bytes + 2 : 0);
  return w * h * per_pixel;
}

template <typename V>
void SizeExactly(std::vector<V>& v, size_t n) {
  v.reserve(n);
  v.resize(n);
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

// Calls f(x) for every x in [x0, x1) where the 0/1 mask `valid` is 0,
// skipping eight valid pixels at a time.
template <typename F>
void ForEachHole(const uint8_t* valid, int x0, int x1, F&& f) {
  constexpr uint64_t kAllValid = 0x0101010101010101ull;
  int x = x0;
  for (; x + 8 <= x1; x += 8) {
    uint64_t word;
    std::memcpy(&word, valid + x, sizeof(word));
    if (word == kAllValid) continue;
    for (int k = 0; k < 8; ++k) {
      if (!valid[x + k]) f(x + k);
    }
  }
  for (; x < x1; ++x) {
    if (!valid[x]) f(x);
  }
}

// Steps 1 and 2 on one band of one tile, in the coordinates of the w x h
// working window (the input tile, margins included). `base` addresses the
// window's pixel (0, 0) with rows `stride` elements apart; `valid` is its
// source mask.
//
// GDAL stores its column passes for every pixel. At a valid pixel they only
// say "this pixel", so here they are kept for the holes alone, and only in
// the rows the interpolation reads ([r.y0, r.y1] ∩ [0, h)): `up` holds, at a
// hole, the row of the nearest valid pixel above it in its column at most n
// rows away (else -1); `down` the same below. The first row of the band
// (last, for `down`) scans its column; the others chain from their
// neighbour, as GDAL's passes do. A candidate more than n rows away is
// dropped where GDAL drops it: distances only grow along the chain. So the
// work follows the holes, not the margin-grown window, which is 3.2 times a
// 256² tile at the pipeline's margin of 100.
template <typename T, typename W>
class BandFiller {
 public:
  BandFiller(int w, int h, double d, const Region& r, const T* base, int64_t stride, const uint8_t* valid, int* up,
             int* down)
      : w_(w), h_(h), d_(d), n_(static_cast<int>(std::floor(d))), r_(r), row0_(r.y0),
        row1_(std::min(h, r.y1 + 1)), base_(base), stride_(stride), valid_(valid), up_(up), down_(down) {}

  // The number of rows of `up` and `down` (each w wide) for region `r`.
  static int PlaneRows(int h, const Region& r) { return std::max(0, std::min(h, r.y1 + 1) - r.y0); }

  void ColumnPasses() {
    for (int y = row0_; y < row1_; ++y) {
      const uint8_t* const v = valid_ + static_cast<size_t>(y) * w_;
      int* const u = Plane(up_, y);
      ForEachHole(v, 0, w_, [&](int x) {
        int src;
        if (y == row0_) {
          src = -1;
          for (int yy = y - 1; yy >= std::max(0, y - n_); --yy) {
            if (valid_[static_cast<size_t>(yy) * w_ + x]) {
              src = yy;
              break;
            }
          }
        } else {
          src = v[x - w_] ? y - 1 : u[x - w_];
          if (src >= 0 && y - src > n_) src = -1;
        }
        u[x] = src;
      });
    }
    for (int y = row1_ - 1; y >= row0_; --y) {
      const uint8_t* const v = valid_ + static_cast<size_t>(y) * w_;
      int* const dn = Plane(down_, y);
      ForEachHole(v, 0, w_, [&](int x) {
        int src;
        if (y == row1_ - 1) {
          src = -1;
          for (int yy = y + 1; yy <= std::min(h_ - 1, y + n_); ++yy) {
            if (valid_[static_cast<size_t>(yy) * w_ + x]) {
              src = yy;
              break;
            }
          }
        } else {
          src = v[x + w_] ? y + 1 : dn[x + w_];
          if (src >= 0 && src - y > n_) src = -1;
        }
        dn[x] = src;
      });
    }
  }

  // Calls emit(x, y, value) for every hole of `r` that gets a value.
  template <typename Emit>
  void Interpolate(Emit&& emit) const {
    for (int y = r_.y0; y < r_.y1; ++y) {
      ForEachHole(valid_ + static_cast<size_t>(y) * w_, r_.x0, r_.x1, [&](int x) {
        W v;
        if (InterpolateOne(x, y, &v)) emit(x, y, v);
      });
    }
  }

 private:
  int* Plane(int* plane, int y) const { return plane + static_cast<size_t>(y - row0_) * w_; }

  W Value(int x, int y) const { return static_cast<W>(base_[y * stride_ + x]); }

  // GDAL's QUAD_CHECK for the candidate (tx, ty) of the hole (x, y); ty < 0:
  // none.
  void QuadCheck(double& quad_dist, W& quad_value, int tx, int ty, int x, int y) const {
    if (ty < 0) return;
    const double dx = static_cast<double>(tx) - static_cast<double>(x);
    const double dy = static_cast<double>(ty) - static_cast<double>(y);
    const double dist_sq = dx * dx + dy * dy;
    if (dist_sq < quad_dist * quad_dist) {
      quad_dist = std::sqrt(dist_sq);
      quad_value = Value(tx, ty);
    }
  }

  // GDAL's search from one hole: step left and right one column at a time
  // (the bound shrinking every four steps to the farthest quadrant found),
  // keeping per quadrant the nearest of the column candidates (above: the
  // nearest valid pixel at or above the hole's row; below: at or below the
  // next row). Quadrants at distance <= d are averaged with weights
  // 1 / distance, in double.
  bool InterpolateOne(int x, int y, W* out) const {
    const uint8_t* const here = valid_ + static_cast<size_t>(y) * w_;
    const int* const up = Plane(up_, y);
    const bool has_below = y + 1 < h_;
    const uint8_t* const below = here + w_;
    const int* const down = has_below ? Plane(down_, y + 1) : nullptr;
    auto top = [&](int cx) { return here[cx] ? y : up[cx]; };
    auto bottom = [&](int cx) { return !has_below ? -1 : below[cx] ? y + 1 : down[cx]; };
    double dist[4];
    W value[4];
    for (int q = 0; q < 4; ++q) {
      dist[q] = d_ + 1.0;
      value[q] = W{0};
    }
    int bound = n_;
    for (int step = 0; step <= bound; ++step) {
      const int lx = std::max(0, x - step);
      const int rx = std::min(w_ - 1, x + step);
      QuadCheck(dist[0], value[0], lx, top(lx), x, y);     // top left
      QuadCheck(dist[1], value[1], lx, bottom(lx), x, y);  // bottom left
      if (step == 0) continue;
      QuadCheck(dist[2], value[2], rx, top(rx), x, y);     // top right
      QuadCheck(dist[3], value[3], rx, bottom(rx), x, y);  // bottom right
      if ((step & 0x3) == 0) {
        bound = static_cast<int>(std::floor(std::max(std::max(dist[0], dist[1]), std::max(dist[2], dist[3]))));
      }
    }
    double weight_sum = 0.0, value_sum = 0.0;
    bool any = false;
    for (int q = 0; q < 4; ++q) {
      if (dist[q] <= d_) {
        any = true;
        const double weight = 1.0 / dist[q];
        weight_sum += weight;
        value_sum += static_cast<double>(value[q]) * weight;
      }
    }
    if (!any) return false;
    *out = static_cast<W>(value_sum / weight_sum);
    return true;
  }

  const int w_, h_;
  const double d_;
  const int n_;
  const Region r_;
  const int row0_, row1_;  // the rows of `up` and `down`: [row0_, row1_)
  const T* const base_;
  const int64_t stride_;
  const uint8_t* const valid_;
  int* const up_;
  int* const down_;
};

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
  const size_t plane = static_cast<size_t>(BandFiller<T, W>::PlaneRows(h, r)) * w;
  SizeExactly(scratch.up, plane);
  SizeExactly(scratch.down, plane);
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
    BandFiller<T, W> filler(w, h, o.max_search_distance, r, base, stride, valid, scratch.up.data(),
                            scratch.down.data());
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
  const bool valid_options = std::isfinite(options.max_search_distance) && options.max_search_distance > 0 &&
                             options.smoothing_iterations >= 0 &&
                             options.max_search_distance < std::numeric_limits<int>::max() / 4;
  f.margin = valid_options ? static_cast<int>(std::floor(options.max_search_distance)) + options.smoothing_iterations
                           : 0;
  f.profiles = [valid_options, options](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    if (!valid_options) {
      return absl::InvalidArgumentError(absl::StrCat("fill nodata: max_search_distance ", options.max_search_distance,
                                                     " must be finite and > 0, smoothing_iterations ",
                                                     options.smoothing_iterations, " >= 0"));
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
    return FillScratchBound(in[0].type == PixelType::kF64 ? 8 : 4, smoothing, w, h);
  };
  f.fn = [options](const MapTile& t) -> absl::Status {
    DispatchPixelType(t.inputs[0].type(), [&]<typename T>() { FillTile<T>(t, options); });
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
