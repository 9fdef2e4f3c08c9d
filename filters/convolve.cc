#include "eoscale/filters/convolve.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "eoscale/filters/sample.h"

namespace eoscale::filters {
namespace {

// One non-zero weight of the flipped kernel, at window position (a, c).
struct Tap {
  int a;
  int c;
  double w;
};

// Per-worker scratch: the window of each stable row and column, in tile
// coordinates (TileBorderTable).
struct BorderTables {
  std::vector<int> rows, cols;
};

template <typename In, typename Out>
void ConvolveBand(const ConstTileView<In>& src, const TypedView<Out>& dst, int band, int kr, int kc,
                  const std::vector<int>& rows, const std::vector<int>& cols, const std::vector<Tap>& taps,
                  double cval) {
  for (int oy = 0; oy < dst.rows(); ++oy) {
    const int* rt = rows.data() + static_cast<size_t>(oy) * kr;
    Out* d = dst.Row(band, oy);
    for (int ox = 0; ox < dst.cols(); ++ox) {
      const int* ct = cols.data() + static_cast<size_t>(ox) * kc;
      double acc = 0.0;
      for (const Tap& tap : taps) {
        const int r = rt[tap.a], c = ct[tap.c];
        const double v =
            r == kBorderConstant || c == kBorderConstant ? cval : static_cast<double>(src.Row(band, r)[c]);
        acc += v * tap.w;
      }
      d[ox] = ConvertSample<Out>(acc);
    }
  }
}

}  // namespace

MapFilter Convolve(std::vector<double> weights, int rows, int cols, ConvolveOptions options) {
  MapFilter f;
  f.name = "convolve";
  f.num_outputs = 1;
  f.margin = BorderMargin(std::max(std::max(rows, 0) / 2, std::max(cols, 0) / 2), options.mode);
  const bool valid = rows >= 1 && cols >= 1 && weights.size() == static_cast<size_t>(rows) * cols;
  f.profiles = [valid, rows, cols, n = weights.size(),
                options](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    if (!valid) {
      return absl::InvalidArgumentError(
          absl::StrCat("convolve: a ", rows, " x ", cols, " kernel with ", n, " weights"));
    }
    return std::vector<Profile>{WithPixelType(in[0], options.output_type.value_or(in[0].type))};
  };
  if (!valid) {
    f.fn = [](const MapTile&) { return absl::InvalidArgumentError("convolve: invalid kernel"); };
    return f;
  }
  // scipy correlates with the flipped kernel: window position (a, c) takes
  // weight w(rows-1-a, cols-1-c); the window spans [y - before, y + after].
  std::vector<Tap> taps;
  for (int a = 0; a < rows; ++a) {
    for (int c = 0; c < cols; ++c) {
      const double w = weights[static_cast<size_t>(rows - 1 - a) * cols + (cols - 1 - c)];
      if (std::fabs(w) > std::numeric_limits<double>::epsilon()) taps.push_back({a, c, w});
    }
  }
  f.fn = [taps = std::move(taps), rows, cols, options](const MapTile& t) -> absl::Status {
    const int before_y = rows - 1 - rows / 2, after_y = rows / 2;
    const int before_x = cols - 1 - cols / 2, after_x = cols / 2;
    const Profile& ip = t.input_profiles[0];
    const Window& w = t.tile.window;
    BorderTables& tables = t.GetScratch<BorderTables>();
    DispatchPixelType(t.inputs[0].type(), [&]<typename In>() {
      DispatchPixelType(t.outputs[0].type(), [&]<typename Out>() {
        const auto src = t.In<In>(0);
        const auto dst = t.Out<Out>(0);
        TileBorderTable(w.y, w.height, before_y, after_y, ip.height, src.top(), src.bottom(), options.mode,
                        &tables.rows);
        TileBorderTable(w.x, w.width, before_x, after_x, ip.width, src.left(), src.right(), options.mode,
                        &tables.cols);
        for (int b = 0; b < src.bands(); ++b) {
          ConvolveBand(src, dst, b, rows, cols, tables.rows, tables.cols, taps, options.cval);
        }
      });
    });
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
