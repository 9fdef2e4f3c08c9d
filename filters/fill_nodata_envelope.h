// FillNodata's search along a run of holes, in time linear in the run
// (internal to fill_nodata.cc; not installed).
//
// GDAL's fill searches each hole's quadrant one column at a time: the cost
// of a hole is its distance to the nearest candidate, so a hole of radius R
// costs R³ (the benchmark tile's 180 x 160 hole takes most of its time).
// For one row, the candidates do not depend on the hole: column c offers
// one pixel at squared vertical distance f_c. The nearest candidate to the
// left of position u is then the lowest of the parabolas (u - u_c)² + f_c
// over the columns already passed, the lower envelope of the lines
// -2 u_c u + u_c² + f_c: a sweep that adds the columns in order and queries
// the positions in order finds it in amortised constant time per column
// (the convex hull trick; Felzenszwalb and Huttenlocher's distance
// transform is the same envelope).
//
// GDAL's result also depends on ties: when several candidates are at the
// same distance, its order of checks picks one (see fill_nodata.cc). The
// envelope gives both extreme tied columns, and the caller picks.
#ifndef EOSCALE_FILTERS_FILL_NODATA_ENVELOPE_H_
#define EOSCALE_FILTERS_FILL_NODATA_ENVELOPE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace eoscale::filters::internal {

class LowerEnvelope {
 public:
  struct Nearest {
    int64_t dist_sq;  // (u - u_c)² + f_c of the nearest
    int low_tag;      // the tag of the nearest with the lowest u_c
    int high_tag;     // and with the highest u_c (the same when no tie)
  };

  // Empties the envelope, keeping its storage.
  void Clear() {
    lines_.clear();
    pointer_ = 0;
  }
  // Adds the parabola of vertex u (above every u added before) and height f
  // (>= 0), identified by `tag`.
  void Add(int64_t u, int64_t f, int tag);
  // The nearest parabola at u (>= every vertex added, and >= the u of the
  // previous query). REQUIRES: one parabola at least.
  Nearest Query(int64_t u);
  bool empty() const { return lines_.empty(); }
  // Room for n parabolas, exactly (the envelope never holds more than were
  // added), and what the storage takes.
  void Reserve(size_t n) { lines_.reserve(n); }
  int64_t bytes() const { return static_cast<int64_t>(lines_.capacity() * sizeof(Line)); }
  static constexpr int64_t kBytesPerParabola = 24;

 private:
  struct Line {
    int64_t u;  // vertex: the line's slope is -2u
    int64_t g;  // u² + f: its value at 0
    int tag;
  };
  static int64_t At(const Line& l, int64_t u) { return l.g - 2 * l.u * u; }

  static_assert(sizeof(Line) == kBytesPerParabola);
  std::vector<Line> lines_;  // slopes strictly decreasing
  size_t pointer_ = 0;       // the nearest at the last query
};

}  // namespace eoscale::filters::internal

#endif  // EOSCALE_FILTERS_FILL_NODATA_ENVELOPE_H_
