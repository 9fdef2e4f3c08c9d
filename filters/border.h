// Border modes of scipy.ndimage, for the neighbourhood filters
// (GenericKernel, Convolve, Uniform): how a window that crosses the image
// border is completed. Inside the image a window always reads the real
// neighbours, which the filter's margin brings into every tile.
#ifndef EOSCALE_FILTERS_BORDER_H_
#define EOSCALE_FILTERS_BORDER_H_

#include <limits>
#include <vector>

#include "absl/strings/string_view.h"

namespace eoscale::filters {

enum class BorderMode {
  kReflect,   // d c b a | a b c d | d c b a  (half-sample symmetric)
  kMirror,    //   d c b | a b c d | c b a    (whole-sample symmetric)
  kNearest,   // a a a a | a b c d | d d d d
  kWrap,      // a b c d | a b c d | a b c d  (see the note on margins below)
  kConstant,  // k k k k | a b c d | k k k k  (k given by the caller)
};

// "reflect", "mirror", "nearest", "wrap", "constant".
absl::string_view BorderModeName(BorderMode mode);

// The index scipy.ndimage reads for index `i` of a line of `n` samples
// (periodic extension for windows wider than the line), or -1 for kConstant
// outside [0, n). REQUIRES: n >= 1.
inline int BorderIndex(int i, int n, BorderMode mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case BorderMode::kConstant:
      return -1;
    case BorderMode::kNearest:
      return i < 0 ? 0 : n - 1;
    case BorderMode::kWrap: {
      const int m = i % n;
      return m < 0 ? m + n : m;
    }
    case BorderMode::kReflect: {
      const int p = 2 * n;
      int m = i % p;
      if (m < 0) m += p;
      return m < n ? m : p - 1 - m;
    }
    case BorderMode::kMirror: {
      if (n == 1) return 0;
      const int p = 2 * n - 2;
      int m = i % p;
      if (m < 0) m += p;
      return m < n ? m : p - m;
    }
  }
  return -1;
}

// The margin a filter with a window reaching `reach` pixels needs under
// `mode`. kWrap reads the opposite side of the image, so its margin covers
// the whole image: each tile then reads every pixel (correct, but the
// working set is the whole image: meant for small images).
int BorderMargin(int reach, BorderMode mode);

// Along one axis: for each of `count` output positions from image index
// `start`, the window [pos - before, pos + after] completed by `mode` at the
// image border (the axis has `image_size` samples), as indices into a view
// that starts at image index `view_start` and holds `view_size` samples;
// -1 stands for the constant. `out` gets count * (before + after + 1)
// indices, position-major.
// A window that needs a sample the view lacks (the filter ran with a margin
// smaller than its window: the engine never does that unless a MapFilter's
// margin is lowered by hand) is completed at the view's edge instead, with
// the same mode: what EOScale does on every tile.
void BorderTable(int start, int count, int before, int after, int image_size, int view_start, int view_size,
                 BorderMode mode, std::vector<int>* out);

// What TileBorderTable writes for a sample that is the constant (kConstant).
inline constexpr int kBorderConstant = std::numeric_limits<int>::min();

// BorderTable in a tile's coordinates (those of MapTile::In): for each of
// `count` output positions of a stable window starting at image index
// `start`, with `margin_before` and `margin_after` samples available around
// it (ConstTileView::top()/bottom() or left()/right()), the window
// [pos - before, pos + after] completed by `mode`, as indices relative to
// the stable window's first sample (so in [-margin_before,
// count + margin_after)); kBorderConstant stands for the constant. Same
// completion rules as BorderTable.
void TileBorderTable(int start, int count, int before, int after, int image_size, int margin_before,
                     int margin_after, BorderMode mode, std::vector<int>* out);

}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_BORDER_H_
