#include "eoscale/filters/generic_kernel.h"

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/filters/sample.h"

namespace eoscale::filters {
namespace kernel {

KernelReduction Sum() {
  return [](std::span<const double> w) {
    double s = 0.0;
    for (double v : w) s += v;
    return s;
  };
}

KernelReduction Mean() {
  return [](std::span<const double> w) {
    double s = 0.0;
    for (double v : w) s += v;
    return s / static_cast<double>(w.size());
  };
}

KernelReduction Min() {
  return [](std::span<const double> w) {
    double m = std::numeric_limits<double>::infinity();
    for (double v : w) {
      if (std::isnan(v)) return v;
      if (v < m) m = v;
    }
    return m;
  };
}

KernelReduction Max() {
  return [](std::span<const double> w) {
    double m = -std::numeric_limits<double>::infinity();
    for (double v : w) {
      if (std::isnan(v)) return v;
      if (v > m) m = v;
    }
    return m;
  };
}

}  // namespace kernel

namespace {

// Per-worker scratch: the window of each stable row and column in tile
// coordinates (TileBorderTable), and the values of one window.
struct KernelScratch {
  std::vector<int> rows, cols;
  std::vector<double> window;
};

template <typename In, typename Out>
void ReduceBand(const ConstTileView<In>& src, const TypedView<Out>& dst, int band, int k,
                const std::vector<int>& rows, const std::vector<int>& cols, double cval,
                const KernelReduction& reduce, std::vector<double>& window) {
  for (int oy = 0; oy < dst.rows(); ++oy) {
    const int* rt = rows.data() + static_cast<size_t>(oy) * k;
    Out* d = dst.Row(band, oy);
    for (int ox = 0; ox < dst.cols(); ++ox) {
      const int* ct = cols.data() + static_cast<size_t>(ox) * k;
      double* w = window.data();
      for (int a = 0; a < k; ++a) {
        if (rt[a] == kBorderConstant) {
          for (int c = 0; c < k; ++c) *w++ = cval;
          continue;
        }
        const In* r = src.Row(band, rt[a]);
        for (int c = 0; c < k; ++c) *w++ = ct[c] == kBorderConstant ? cval : static_cast<double>(r[ct[c]]);
      }
      d[ox] = ConvertSample<Out>(reduce(std::span<const double>(window)));
    }
  }
}

}  // namespace

MapFilter GenericKernel(int radius, KernelReduction reduce, GenericKernelOptions options) {
  MapFilter f;
  f.name = "generic kernel";
  f.margin = BorderMargin(std::max(radius, 0), options.mode);
  f.profiles = [radius, has_reduce = static_cast<bool>(reduce),
                options](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    if (radius < 0) return absl::InvalidArgumentError(absl::StrCat("generic kernel: radius ", radius, " < 0"));
    if (!has_reduce) return absl::InvalidArgumentError("generic kernel: no reduction");
    std::vector<Profile> out;
    for (const Profile& p : in) out.push_back(WithPixelType(p, options.output_type));
    return out;
  };
  f.fn = [radius, reduce = std::move(reduce), options](const MapTile& t) -> absl::Status {
    const int k = 2 * radius + 1;
    const Window& w = t.tile.window;
    const Profile& ip = t.input_profiles[0];
    KernelScratch& s = t.GetScratch<KernelScratch>();
    s.window.resize(static_cast<size_t>(k) * k);
    for (size_t i = 0; i < t.inputs.size(); ++i) {
      DispatchPixelType(t.inputs[i].type(), [&]<typename In>() {
        DispatchPixelType(t.outputs[i].type(), [&]<typename Out>() {
          const auto src = t.In<In>(i);
          const auto dst = t.Out<Out>(i);
          if (i == 0) {  // every input covers the same window of same-sized images
            TileBorderTable(w.y, w.height, radius, radius, ip.height, src.top(), src.bottom(), options.mode, &s.rows);
            TileBorderTable(w.x, w.width, radius, radius, ip.width, src.left(), src.right(), options.mode, &s.cols);
          }
          for (int b = 0; b < src.bands(); ++b) {
            ReduceBand(src, dst, b, k, s.rows, s.cols, options.cval, reduce, s.window);
          }
        });
      });
    }
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
