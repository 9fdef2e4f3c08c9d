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
  std::vector<W> val, next;
  std::vector<uint8_t> valid, filled, tmask;
  // Column passes (BandFiller).
  std::vector<int> td_y, last_y, this_y;
  std::vector<W> td_v, last_v, this_v, out_row;

  // What it holds (MapFilter::scratch_bytes bounds it).
  int64_t bytes() const {
    int64_t n = 0;
    auto add = [&n](const auto& v) { n += static_cast<int64_t>(v.capacity() * sizeof(v[0])); };
    add(val), add(next), add(valid), add(filled), add(tmask);
    add(td_y), add(last_y), add(this_y), add(td_v), add(last_v), add(this_v), add(out_row);
    return n;
  }
};

// The bound of FillScratch<W> for a w x h input window: per pixel two value
// planes, three byte masks and the column pass's row and value planes; per
// column five rows. Every buffer is reserved to its exact size (never grown
// by a doubling), so that a tile never holds more than this.
int64_t FillScratchBound(int64_t value_bytes, int64_t w, int64_t h) {
  return w * h * (3 * value_bytes + 3 + static_cast<int64_t>(sizeof(int))) +
         w * (2 * static_cast<int64_t>(sizeof(int)) + 3 * value_bytes);
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

// One band of one tile. W is the working type (float, as GDAL; double for
// float64 images). Inputs: `val` and `valid` over the w x h tile; outputs:
// `val` updated inside `r` and `filled` (GDAL's filter mask) inside `r`.
// Its column buffers are those of `scratch`.
template <typename W>
class BandFiller {
 public:
  BandFiller(int w, int h, double d, FillScratch<W>& scratch)
      : w_(w), h_(h), d_(d), n_(static_cast<int>(std::floor(d))), td_y_(scratch.td_y), td_v_(scratch.td_v),
        last_y_(scratch.last_y), this_y_(scratch.this_y), last_v_(scratch.last_v), this_v_(scratch.this_v),
        out_row_(scratch.out_row) {}

  // Steps 1 and 2 over region `r`.
  //
  // The loops here and in Smooth go through raw pointers held in locals: the
  // buffers live in the worker's scratch, and through the vectors every
  // uint8_t store could, as far as the compiler knows, move another vector's
  // storage, so it would reload every pointer at each store (11 % more
  // instructions in Fill, and a mask loop that no longer vectorises).
  void Fill(const Region& r, std::vector<W>& val_buffer, const std::vector<uint8_t>& valid_buffer,
            std::vector<uint8_t>& filled_buffer) {
    W* const val = val_buffer.data();
    const uint8_t* const valid = valid_buffer.data();
    uint8_t* const filled = filled_buffer.data();
    // 1. Top-down: rows [0, r.y1).
    td_y_.assign(static_cast<size_t>(w_) * r.y1, -1);
    td_v_.assign(static_cast<size_t>(w_) * r.y1, W{0});
    int* const td_y = td_y_.data();
    W* const td_v = td_v_.data();
    for (int y = 0; y < r.y1; ++y) {
      const size_t row = static_cast<size_t>(y) * w_;
      for (int x = 0; x < w_; ++x) {
        const size_t i = row + x;
        if (valid[i]) {
          td_y[i] = y;
          td_v[i] = val[i];
        } else if (y > 0 && td_y[i - w_] >= 0 && y - td_y[i - w_] <= d_) {
          td_y[i] = td_y[i - w_];
          td_v[i] = td_v[i - w_];
        }
      }
    }
    // 2. Bottom-up, interpolating rows [r.y0, r.y1) on the way.
    last_y_.assign(w_, -1);
    this_y_.assign(w_, -1);
    last_v_.assign(w_, W{0});
    this_v_.assign(w_, W{0});
    out_row_.assign(w_, W{0});
    int* last_y = last_y_.data();
    int* this_y = this_y_.data();
    W* last_v = last_v_.data();
    W* this_v = this_v_.data();
    W* const out_row = out_row_.data();
    for (int y = h_ - 1; y >= r.y0; --y) {
      const size_t row = static_cast<size_t>(y) * w_;
      for (int x = 0; x < w_; ++x) {
        if (valid[row + x]) {
          this_y[x] = y;
          this_v[x] = val[row + x];
        } else if (last_y[x] >= 0 && last_y[x] - y <= d_) {
          this_y[x] = last_y[x];
          this_v[x] = last_v[x];
        } else {
          this_y[x] = -1;
        }
      }
      if (y < r.y1) {
        const int* top_y = td_y + row;
        const W* top_v = td_v + row;
        for (int x = r.x0; x < r.x1; ++x) {
          if (valid[row + x]) continue;
          W v;
          if (Interpolate(x, y, top_y, top_v, last_y, last_v, &v)) {
            out_row[x] = v;
            filled[row + x] = 1;
          }
        }
        // Written after the row: filled pixels never become sources.
        for (int x = r.x0; x < r.x1; ++x) {
          if (filled[row + x]) val[row + x] = out_row[x];
        }
      }
      std::swap(last_y, this_y);
      std::swap(last_v, this_v);
    }
  }

  // Step 3 over region `r`: `iterations` Jacobi passes over the filled
  // pixels, reading pixels that are valid or filled. `top_row` and
  // `bottom_row` are the tile rows of the image's first and last rows (or
  // out of [0, h) when the tile does not reach them). `tmask` and `next` are
  // working buffers; `val` may come back swapped with `next`.
  void Smooth(const Region& r, int iterations, int top_row, int bottom_row, std::vector<W>& val_buffer,
              const std::vector<uint8_t>& valid_buffer, const std::vector<uint8_t>& filled_buffer,
              std::vector<uint8_t>& tmask_buffer, std::vector<W>& next_buffer) {
    const size_t n = valid_buffer.size();
    tmask_buffer.reserve(n);
    tmask_buffer.resize(n);
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
        const size_t row = static_cast<size_t>(y) * w_;
        for (int x = r.x0; x < r.x1; ++x) {
          if (!filled[row + x]) continue;
          double sum = 0.0, weight = 0.0;
          // GDAL's order: previous, this, next line; left, centre, right.
          for (int dy = -1; dy <= 1; ++dy) {
            const int yy = y + dy;
            if (yy < 0 || yy >= h_) continue;
            const size_t nrow = static_cast<size_t>(yy) * w_;
            for (int dx = -1; dx <= 1; ++dx) {
              const int xx = x + dx;
              if (xx < 0 || xx >= w_ || !tmask[nrow + xx]) continue;
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

 private:
  // GDAL's QUAD_CHECK.
  static void QuadCheck(double& quad_dist, W& quad_value, int tx, int ty, int x, int y, W value) {
    if (ty < 0) return;
    const double dx = static_cast<double>(tx) - static_cast<double>(x);
    const double dy = static_cast<double>(ty) - static_cast<double>(y);
    const double dist_sq = dx * dx + dy * dy;
    if (dist_sq < quad_dist * quad_dist) {
      quad_dist = std::sqrt(dist_sq);
      quad_value = value;
    }
  }

  bool Interpolate(int x, int y, const int* top_y, const W* top_v, const int* bottom_y, const W* bottom_v,
                   W* out) const {
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
      QuadCheck(dist[0], value[0], lx, top_y[lx], x, y, top_v[lx]);        // top left
      QuadCheck(dist[1], value[1], lx, bottom_y[lx], x, y, bottom_v[lx]);  // bottom left
      if (step == 0) continue;
      QuadCheck(dist[2], value[2], rx, top_y[rx], x, y, top_v[rx]);        // top right
      QuadCheck(dist[3], value[3], rx, bottom_y[rx], x, y, bottom_v[rx]);  // bottom right
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
  std::vector<int>& td_y_;
  std::vector<W>& td_v_;
  std::vector<int>& last_y_;
  std::vector<int>& this_y_;
  std::vector<W>& last_v_;
  std::vector<W>& this_v_;
  std::vector<W>& out_row_;
};

template <typename T>
void FillTile(const MapTile& t, const FillNodataOptions& o) {
  using W = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const auto src = t.In<T>(0);
  const auto dst = t.Out<T>(0);
  // The working buffers hold the whole input tile: buffer (y, x) is tile
  // (y - top, x - left).
  const int top = src.top(), left = src.left();
  const int w = left + src.cols() + src.right(), h = top + src.rows() + src.bottom();
  const int s = o.smoothing_iterations;
  const Region r{std::max(0, left - s), std::max(0, top - s), std::min(w, left + dst.cols() + s),
                 std::min(h, top + dst.rows() + s)};
  const int top_row = top - t.tile.window.y;  // the buffer rows of the image's first and last rows
  const int bottom_row = t.input_profiles[0].height - 1 - (t.tile.window.y - top);
  const size_t pixels = static_cast<size_t>(w) * h;
  FillScratch<W>& scratch = t.GetScratch<FillScratch<W>>();
  std::vector<W>& val = scratch.val;
  std::vector<uint8_t>& valid = scratch.valid;
  std::vector<uint8_t>& filled = scratch.filled;
  // reserve, then resize: exactly the tile's size, never a doubling.
  val.reserve(pixels), valid.reserve(pixels), filled.reserve(pixels);
  val.resize(pixels);
  valid.resize(pixels);
  filled.resize(pixels);
  const NodataTest<T> is_nodata(t.input_profiles[0].nodata);
  BandFiller<W> filler(w, h, o.max_search_distance, scratch);

  for (int b = 0; b < src.bands(); ++b) {
    // Values and validity of the whole tile.
    for (int y = 0; y < h; ++y) {
      const T* row = src.Row(b, y - top) - left;
      W* v = val.data() + static_cast<size_t>(y) * w;
      uint8_t* ok = valid.data() + static_cast<size_t>(y) * w;
      for (int x = 0; x < w; ++x) {
        v[x] = static_cast<W>(row[x]);
        ok[x] = is_nodata(row[x]) ? 0 : 1;
      }
    }
    if (t.inputs.size() > 1) {
      const ConstView& mask = t.inputs[1];
      const int mb = mask.bands() == 1 ? 0 : b;
      DispatchPixelType(mask.type(), [&]<typename M>() {
        const auto m = t.In<M>(1);  // same window as the image
        for (int y = 0; y < h; ++y) {
          const M* row = m.Row(mb, y - top) - left;
          uint8_t* ok = valid.data() + static_cast<size_t>(y) * w;
          for (int x = 0; x < w; ++x) ok[x] = row[x] == M{0} ? 1 : 0;
        }
      });
    }
    std::fill(filled.begin(), filled.end(), 0);
    filler.Fill(r, val, valid, filled);
    if (s > 0) {
      if constexpr (!std::is_floating_point_v<T>) {
        // GDAL writes the fills to the band, then smooths what it reads back.
        W* const v = val.data();
        const uint8_t* const f = filled.data();
        for (size_t i = 0; i < pixels; ++i) {
          if (f[i]) v[i] = static_cast<W>(StoreLikeGdal<T>(v[i]));
        }
      }
      filler.Smooth(r, s, top_row, bottom_row, val, valid, filled, scratch.tmask, scratch.next);
    }
    for (int y = 0; y < dst.rows(); ++y) {
      const size_t row = static_cast<size_t>(y + top) * w + left;
      const uint8_t* const f = filled.data() + row;
      const W* const v = val.data() + row;
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
  f.scratch_bytes = [](absl::Span<const Profile> in, int w, int h) {
    return FillScratchBound(in[0].type == PixelType::kF64 ? 8 : 4, w, h);
  };
  f.fn = [options](const MapTile& t) -> absl::Status {
    DispatchPixelType(t.inputs[0].type(), [&]<typename T>() { FillTile<T>(t, options); });
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
