#include "eoscale/filters/uniform.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/filters/border.h"
#include "eoscale/filters/sample.h"

namespace eoscale::filters {
namespace {

// Per-worker scratch: the border tables and the intermediate of one band.
template <typename T>
struct UniformScratch {
  std::vector<int> rows, cols;
  std::vector<T> mid;
  std::vector<double> acc;

  // What it holds (MapFilter::scratch_bytes bounds it).
  int64_t bytes() const {
    return static_cast<int64_t>((rows.capacity() + cols.capacity()) * sizeof(int) + mid.capacity() * sizeof(T) +
                                acc.capacity() * sizeof(double));
  }
};

// The widest range [lo, hi) of output columns whose table entries are
// ox + k, ox + k + 1, ..., ox + k + size - 1 for one k (the columns whose
// window does not cross the image border); lo == hi when there is none.
std::pair<int, int> InteriorColumns(const std::vector<int>& cols, int size, int out_cols) {
  auto regular = [&](int ox) {
    const int* ct = cols.data() + static_cast<size_t>(ox) * size;
    for (int a = 1; a < size; ++a) {
      if (ct[a] != ct[0] + a) return false;
    }
    return true;
  };
  int best_lo = 0, best_hi = 0;
  for (int ox = 0; ox < out_cols;) {
    if (!regular(ox)) {
      ++ox;
      continue;
    }
    const int lo = ox;
    const int k = cols[static_cast<size_t>(ox) * size] - ox;
    while (ox < out_cols && regular(ox) && cols[static_cast<size_t>(ox) * size] - ox == k) ++ox;
    if (ox - lo > best_hi - best_lo) best_lo = lo, best_hi = ox;
  }
  return {best_lo, best_hi};
}

// One band. `rows`: for each stable row, the `size` tile rows of its window;
// `cols`: for each stable column, the `size` intermediate columns of its
// window, as indices into [first_col, first_col + num_cols) of the tile.
template <typename T>
void UniformBand(const ConstTileView<T>& src, const TypedView<T>& dst, int band, int size,
                 const std::vector<int>& rows, const std::vector<int>& cols, int first_col, int num_cols,
                 std::vector<T>& mid, std::vector<double>& acc) {
  const double n = static_cast<double>(size);
  // Axis 0: the intermediate for the stable rows and every column the
  // second pass reads, stored in T as scipy's output array.
  // reserve, then resize: exactly this tile's size, never a doubling.
  mid.reserve(static_cast<size_t>(dst.rows()) * num_cols);
  mid.resize(static_cast<size_t>(dst.rows()) * num_cols);
  const size_t acc_size = std::max(static_cast<size_t>(num_cols), static_cast<size_t>(dst.cols()));
  acc.reserve(acc_size);
  acc.resize(acc_size);
  for (int oy = 0; oy < dst.rows(); ++oy) {
    const int* rt = rows.data() + static_cast<size_t>(oy) * size;
    std::fill(acc.begin(), acc.begin() + num_cols, 0.0);
    for (int a = 0; a < size; ++a) {
      const T* r = src.Row(band, rt[a]) + first_col;
      for (int c = 0; c < num_cols; ++c) acc[c] += static_cast<double>(r[c]);
    }
    T* m = mid.data() + static_cast<size_t>(oy) * num_cols;
    for (int c = 0; c < num_cols; ++c) m[c] = ConvertSample<T>(acc[c] / n);
  }
  // Axis 1. Inside the image, column ox reads intermediate columns ox + k,
  // ..., ox + k + size - 1 (k the same for all): those columns are summed a
  // row at a time (a loop that vectorises), each pixel's terms in the same
  // order as the table's loop, so the sums are the same to the bit.
  const auto [in_lo, in_hi] = InteriorColumns(cols, size, dst.cols());
  for (int oy = 0; oy < dst.rows(); ++oy) {
    const T* m = mid.data() + static_cast<size_t>(oy) * num_cols;
    T* d = dst.Row(band, oy);
    auto by_table = [&](int ox) {
      const int* ct = cols.data() + static_cast<size_t>(ox) * size;
      double s = 0.0;
      for (int a = 0; a < size; ++a) s += static_cast<double>(m[ct[a]]);
      d[ox] = ConvertSample<T>(s / n);
    };
    for (int ox = 0; ox < in_lo; ++ox) by_table(ox);
    if (in_lo < in_hi) {
      const int len = in_hi - in_lo;
      const T* first = m + cols[static_cast<size_t>(in_lo) * size];  // first[i + a]: term a of column in_lo + i
      double* sum = acc.data();
      std::fill(sum, sum + len, 0.0);
      for (int a = 0; a < size; ++a) {
        const T* col = first + a;
        for (int i = 0; i < len; ++i) sum[i] += static_cast<double>(col[i]);
      }
      for (int i = 0; i < len; ++i) d[in_lo + i] = ConvertSample<T>(sum[i] / n);
    }
    for (int ox = in_hi; ox < dst.cols(); ++ox) by_table(ox);
  }
}

}  // namespace

MapFilter Uniform(int size) {
  MapFilter f;
  f.name = "uniform";
  f.num_outputs = 1;
  f.margin = std::max(size, 1) / 2;
  f.profiles = [size](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    if (size < 1) return absl::InvalidArgumentError(absl::StrCat("uniform: size ", size, " < 1"));
    return std::vector<Profile>{in[0]};
  };
  // The border tables (`size` entries per row and column, kept at most
  // twice over by their growth), the intermediate (at most the input window
  // in the pixel type) and one row of sums.
  f.scratch_bytes = [size](absl::Span<const Profile> in, int w, int h) {
    const int64_t n = std::max(size, 1);
    return 2 * (int64_t{w} + h) * n * static_cast<int64_t>(sizeof(int)) +
           int64_t{w} * h * static_cast<int64_t>(PixelSize(in[0].type)) + int64_t{w} * 8;
  };
  f.fn = [size](const MapTile& t) -> absl::Status {
    const Profile& ip = t.input_profiles[0];
    const Window& w = t.tile.window;
    const int before = size / 2, after = size - before - 1;
    DispatchPixelType(t.inputs[0].type(), [&]<typename T>() {
      const auto src = t.In<T>(0);
      const auto dst = t.Out<T>(0);
      UniformScratch<T>& s = t.GetScratch<UniformScratch<T>>();
      // kReflect never yields kBorderConstant.
      TileBorderTable(w.y, w.height, before, after, ip.height, src.top(), src.bottom(), BorderMode::kReflect, &s.rows);
      TileBorderTable(w.x, w.width, before, after, ip.width, src.left(), src.right(), BorderMode::kReflect, &s.cols);
      // The columns the second pass reads, as a contiguous range of the tile.
      const auto [lo, hi] = std::minmax_element(s.cols.begin(), s.cols.end());
      const int first_col = *lo;
      const int num_cols = *hi - *lo + 1;
      for (int& c : s.cols) c -= first_col;
      for (int b = 0; b < src.bands(); ++b) {
        UniformBand(src, dst, b, size, s.rows, s.cols, first_col, num_cols, s.mid, s.acc);
      }
    });
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
