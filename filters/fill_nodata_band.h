// FillNodata's steps 1 and 2 on one band of one tile: GDAL's column passes
// and its search from each hole (internal to fill_nodata.cc; not
// installed). fill_nodata.cc says which GDAL algorithm this is and why a
// tile gives the whole image's result.
#ifndef EOSCALE_FILTERS_FILL_NODATA_BAND_H_
#define EOSCALE_FILTERS_FILL_NODATA_BAND_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fill_nodata_envelope.h"

namespace eoscale::filters::internal {

// Where to compute fills, in the coordinates of the w x h working buffers
// (those of the whole input tile, margins included: tile coordinates plus
// the top and left margins): [x0, x1) x [y0, y1).
struct Region {
  int x0, y0, x1, y1;
};

template <typename V>
void SizeExactly(std::vector<V>& v, size_t n) {
  v.reserve(n);
  v.resize(n);
}

// A BandFiller's buffers, kept by the worker from one tile to the next.
template <typename W>
struct BandScratch {
  std::vector<int> up, down;  // the column passes at the holes (ColumnPasses)
  // A long run of holes in a row (BandFiller::Run): the envelope, and the
  // distance and value of each hole's four quadrants.
  LowerEnvelope envelope;
  std::vector<double> run_dist;
  std::vector<W> run_value;

  int64_t bytes() const {
    int64_t n = envelope.bytes();
    n += static_cast<int64_t>(up.capacity() * sizeof(int) + down.capacity() * sizeof(int));
    n += static_cast<int64_t>(run_dist.capacity() * sizeof(double) + run_value.capacity() * sizeof(W));
    return n;
  }
  // The bound of bytes() for a w x h window: two int planes of at most h
  // rows; per column, a parabola and four quadrants' distance and value.
  static int64_t Bound(int64_t w, int64_t h) {
    return w * h * 2 * static_cast<int64_t>(sizeof(int)) +
           w * (LowerEnvelope::kBytesPerParabola + 4 * static_cast<int64_t>(sizeof(double) + sizeof(W)));
  }
};

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
  BandFiller(int w, int h, double d, const Region& r, const T* base, int64_t stride, const uint8_t* valid,
             BandScratch<W>& scratch)
      : w_(w), h_(h), d_(d), n_(static_cast<int>(std::floor(d))), r_(r), row0_(r.y0),
        row1_(std::max(r.y0, std::min(h, r.y1 + 1))), base_(base), stride_(stride), valid_(valid),
        envelope_(scratch.envelope), run_dist_(scratch.run_dist), run_value_(scratch.run_value) {
    const size_t plane = static_cast<size_t>(row1_ - row0_) * w;
    SizeExactly(scratch.up, plane);
    SizeExactly(scratch.down, plane);
    up_ = scratch.up.data();
    down_ = scratch.down.data();
    envelope_.Reserve(w);
    SizeExactly(run_dist_, static_cast<size_t>(4) * w);
    SizeExactly(run_value_, static_cast<size_t>(4) * w);
  }

  void ColumnPasses() {
    ColumnPass(up_, 1);
    ColumnPass(down_, -1);
  }

  // Calls emit(x, y, value) for every hole of `r` that gets a value, run
  // of holes by run of holes along each row.
  template <typename Emit>
  void Interpolate(Emit&& emit) {
    for (int y = r_.y0; y < r_.y1; ++y) {
      int start = -1, end = -1;
      ForEachHole(valid_ + static_cast<size_t>(y) * w_, r_.x0, r_.x1, [&](int x) {
        if (x == end) {
          ++end;
          return;
        }
        if (start >= 0) Run(y, start, end, emit);
        start = x;
        end = x + 1;
      });
      if (start >= 0) Run(y, start, end, emit);
    }
  }

 private:
  // One column pass over the holes of rows [row0_, row1_) into `plane`:
  // dir = 1 goes down the rows and finds the nearest valid pixel above
  // (`up`), dir = -1 goes up and finds it below (`down`). The first row
  // scans its column, at most n rows; the others chain from the row before.
  void ColumnPass(int* plane, int dir) {
    const int first = dir > 0 ? row0_ : row1_ - 1;
    const int end = dir > 0 ? row1_ : row0_ - 1;
    const int stop_offset = -dir * n_;  // the farthest row a scan reads, from its own
    for (int y = first; y != end; y += dir) {
      const uint8_t* const v = valid_ + static_cast<size_t>(y) * w_;
      int* const p = Plane(plane, y);
      const int64_t previous = -static_cast<int64_t>(dir) * w_;  // the row before, in the pass's order
      ForEachHole(v, 0, w_, [&](int x) {
        int src = -1;
        if (y == first) {
          const int stop = std::clamp(y + stop_offset, 0, h_ - 1);
          for (int yy = y - dir; dir > 0 ? yy >= stop : yy <= stop; yy -= dir) {
            if (valid_[static_cast<size_t>(yy) * w_ + x]) {
              src = yy;
              break;
            }
          }
        } else {
          src = v[x + previous] ? y - dir : p[x + previous];
          if (src >= 0 && std::abs(y - src) > n_) src = -1;
        }
        p[x] = src;
      });
    }
  }

  int* Plane(int* plane, int y) const { return plane + static_cast<size_t>(y - row0_) * w_; }

  W Value(int x, int y) const { return static_cast<W>(base_[y * stride_ + x]); }

  // GDAL's search from the hole (x, y), quadrant by quadrant. GDAL steps
  // left and right one column at a time and keeps per quadrant the nearest
  // of the column candidates (above: the nearest valid pixel at or above the
  // hole's row; below: at or below the next row): QUAD_CHECK takes a
  // candidate when dist² < quad_dist², quad_dist = sqrt(dist²) of the one
  // taken before (first d + 1). A quadrant's outcome depends only on its own
  // candidates in step order, so each quadrant is searched on its own and
  // stops as soon as no later candidate can be taken: at step s every
  // candidate has dist² >= s². GDAL stops all four together, at a bound
  // (the farthest quadrant's distance, updated every four steps, at most n)
  // past which no candidate can be taken either, so both take the same
  // candidates. At the window's edge GDAL clamps the column: it checks the
  // edge column again, which cannot change the quadrant, except for a hole
  // in the last column, whose right quadrants then see its own column
  // (once here; GDAL's later checks of it change nothing).
  template <typename Row>
  void SearchQuadrant(int x, int y, int first_step, int dir, Row&& row_of, double* dist, W* value) const {
    double quad_dist = d_ + 1.0;
    double quad_sq = quad_dist * quad_dist;
    W v = W{0};
    for (int step = first_step; step <= n_; ++step) {
      if (step > first_step) {
        const int previous = x + dir * (step - 1);  // the column checked last, unclamped
        if (dir > 0 ? previous >= w_ - 1 : previous <= 0) break;
      }
      const int cx = std::clamp(x + dir * step, 0, w_ - 1);
      const double dx = static_cast<double>(cx) - static_cast<double>(x);
      if (dx * dx >= quad_sq) break;
      const int ty = row_of(cx);
      if (ty < 0) continue;
      const double dy = static_cast<double>(ty) - static_cast<double>(y);
      const double dist_sq = dx * dx + dy * dy;
      if (dist_sq < quad_sq) {
        quad_dist = std::sqrt(dist_sq);
        quad_sq = quad_dist * quad_dist;
        v = Value(cx, ty);
      }
    }
    *dist = quad_dist;
    *value = v;
  }

  // The holes [a, b) of row y. A short run is searched hole by hole
  // (SearchQuadrant: a hole costs its distance to its candidates); from
  // kEnvelopeRun holes on, along the lower envelope (EnvelopeQuadrants: a
  // constant per column of the run and its margin).
  static constexpr int kEnvelopeRun = 24;

  template <typename Emit>
  void Run(int y, int a, int b, Emit& emit) {
    const bool has_below = y + 1 < h_;
    const uint8_t* const here = valid_ + static_cast<size_t>(y) * w_;
    const int* const up = Plane(up_, y);
    const uint8_t* const below = here + w_;
    const int* const down = has_below ? Plane(down_, y + 1) : nullptr;
    auto top = [&](int cx) { return here[cx] ? y : up[cx]; };
    auto bottom = [&](int cx) { return below[cx] ? y + 1 : down[cx]; };
    const int len = b - a;
    double* const dist = run_dist_.data();
    W* const value = run_value_.data();
    if (len < kEnvelopeRun) {
      for (int x = a; x < b; ++x) {
        SearchQuadrant(x, y, 0, -1, top, &dist[0], &value[0]);  // top left
        SearchQuadrant(x, y, 1, 1, top, &dist[2], &value[2]);   // top right
        if (has_below) {
          SearchQuadrant(x, y, 0, -1, bottom, &dist[1], &value[1]);  // bottom left
          SearchQuadrant(x, y, 1, 1, bottom, &dist[3], &value[3]);   // bottom right
        } else {
          dist[1] = dist[3] = d_ + 1.0;
          value[1] = value[3] = W{0};
        }
        W v;
        if (Combine(dist, value, 1, &v)) emit(x, y, v);
      }
      return;
    }
    // Quadrant q of hole a + i at q * len + i.
    EnvelopeQuadrants(y, a, b, top, dist, value, dist + 2 * len, value + 2 * len);
    if (has_below) {
      EnvelopeQuadrants(y, a, b, bottom, dist + len, value + len, dist + 3 * len, value + 3 * len);
    } else {
      std::fill_n(dist + len, len, d_ + 1.0), std::fill_n(dist + 3 * len, len, d_ + 1.0);
      std::fill_n(value + len, len, W{0}), std::fill_n(value + 3 * len, len, W{0});
    }
    for (int i = 0; i < len; ++i) {
      W v;
      if (Combine(dist + i, value + i, len, &v)) emit(a + i, y, v);
    }
  }

  // The left and right quadrants of the holes [a, b) of row y, for the
  // column candidates `row_of` (above or below), into left_dist[i] ... for
  // hole a + i. The left quadrant of x takes the columns c <= x (GDAL's
  // steps 0, 1, ... go from x leftwards); the right one c > x, seen in
  // mirrored positions u = -c so that both sweeps run towards growing u.
  // GDAL keeps, among equidistant candidates, the first it checks (the
  // nearest column: the envelope's highest u) unless sqrt(k)² rounds above
  // k, when each equal candidate replaces the last (the farthest column).
  // Candidates more than n columns away cannot be used (their distance
  // exceeds d) nor displace a usable one, so the sweeps start n columns out.
  template <typename Row>
  void EnvelopeQuadrants(int y, int a, int b, Row&& row_of, double* left_dist, W* left_value, double* right_dist,
                         W* right_value) {
    const double unset = d_ + 1.0;
    const double first_sq = unset * unset;
    auto store = [&](const internal::LowerEnvelope::Nearest& nearest, double* dist, W* value) {
      const double k = static_cast<double>(nearest.dist_sq);
      if (!(k < first_sq)) {
        *dist = unset;
        *value = W{0};
        return;
      }
      *dist = std::sqrt(k);
      const int c = k < *dist * *dist ? nearest.low_tag : nearest.high_tag;
      *value = Value(c, row_of(c));
    };
    auto height = [y](int ty) { return static_cast<int64_t>(ty - y) * (ty - y); };
    envelope_.Clear();
    for (int c = std::max(0, a - n_); c < b; ++c) {
      const int ty = row_of(c);
      if (ty >= 0) envelope_.Add(c, height(ty), c);
      if (c < a) continue;
      if (envelope_.empty()) {
        left_dist[c - a] = unset;
        left_value[c - a] = W{0};
      } else {
        store(envelope_.Query(c), &left_dist[c - a], &left_value[c - a]);
      }
    }
    envelope_.Clear();
    for (int c = std::min(w_ - 1, b - 1 + n_); c >= a; --c) {
      if (c < b) {
        if (c == w_ - 1) {
          // GDAL's clamped step: the last column's right quadrant is its own.
          SearchQuadrant(c, y, 1, 1, row_of, &right_dist[c - a], &right_value[c - a]);
        } else if (envelope_.empty()) {
          right_dist[c - a] = unset;
          right_value[c - a] = W{0};
        } else {
          store(envelope_.Query(-c), &right_dist[c - a], &right_value[c - a]);
        }
      }
      const int ty = row_of(c);
      if (ty >= 0) envelope_.Add(-c, height(ty), c);
    }
  }

  // GDAL's average of the quadrants (dist[q * stride], value[q * stride])
  // found within d: weights 1 / distance, in double.
  bool Combine(const double* dist, const W* value, int stride, W* out) const {
    double weight_sum = 0.0, value_sum = 0.0;
    bool any = false;
    for (int q = 0; q < 4; ++q) {
      const double dq = dist[q * stride];
      if (dq <= d_) {
        any = true;
        const double weight = 1.0 / dq;
        weight_sum += weight;
        value_sum += static_cast<double>(value[q * stride]) * weight;
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
  int* up_;  // rows [row0_, row1_) of the column passes, w wide
  int* down_;
  internal::LowerEnvelope& envelope_;
  std::vector<double>& run_dist_;
  std::vector<W>& run_value_;
};

}  // namespace eoscale::filters::internal

#endif  // EOSCALE_FILTERS_FILL_NODATA_BAND_H_
