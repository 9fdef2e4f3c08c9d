#include "eoscale/filters/normalized_difference.h"

#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/core/row_loop.h"
#include "eoscale/filters/sample.h"

namespace eoscale::filters {
namespace {

// Input index and band (0-based) of global band `band` (1-based).
bool Locate(absl::Span<const Profile> in, int band, size_t* input, int* local) {
  if (band < 1) return false;
  int first = 1;
  for (size_t i = 0; i < in.size(); ++i) {
    if (band < first + in[i].bands) {
      *input = i;
      *local = band - first;
      return true;
    }
    first += in[i].bands;
  }
  return false;
}

// Per-worker scratch: one row of each band, as float32.
struct Rows {
  std::vector<float> a, b;
};

// Row y of the stable window of one band as float32, NaN where nodata.
void LoadRow(const MapTile& t, size_t input, int band, int y, std::vector<float>& row) {
  DispatchPixelType(t.inputs[input].type(), [&]<typename T>() {
    const NodataTest<T> is_nodata(t.input_profiles[input].nodata);
    const T* s = t.In<T>(input).Row(band, y);
    for (size_t x = 0; x < row.size(); ++x) {
      row[x] = is_nodata(s[x]) ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(s[x]);
    }
  });
}

// d = (a - b) / (a + b + epsilon), element by element.
EOSCALE_ROW_LOOP void RatioRow(const float* __restrict a, const float* __restrict b, float epsilon,
                               float* __restrict d, int n) {
  for (int x = 0; x < n; ++x) d[x] = (a[x] - b[x]) / (a[x] + b[x] + epsilon);
}

}  // namespace

MapFilter NormalizedDifference(int band_a, int band_b, float epsilon) {
  MapFilter f;
  f.name = "normalized difference";
  f.num_outputs = 1;
  f.profiles = [band_a, band_b](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    size_t i = 0;
    int b = 0;
    int total = 0;
    for (const Profile& p : in) total += p.bands;
    for (int band : {band_a, band_b}) {
      if (!Locate(in, band, &i, &b)) {
        return absl::InvalidArgumentError(
            absl::StrCat("normalized difference: band ", band, " outside [1, ", total, "]"));
      }
    }
    Profile p = in[0];
    p.bands = 1;
    p.type = PixelType::kF32;
    bool any_nodata = false;
    for (const Profile& q : in) any_nodata |= q.nodata.has_value();
    p.nodata.reset();
    if (any_nodata) p.nodata = std::numeric_limits<double>::quiet_NaN();
    return std::vector<Profile>{p};
  };
  f.fn = [band_a, band_b, epsilon](const MapTile& t) -> absl::Status {
    size_t ia = 0, ib = 0;
    int ba = 0, bb = 0;
    if (!Locate(t.input_profiles, band_a, &ia, &ba) || !Locate(t.input_profiles, band_b, &ib, &bb)) {
      return absl::InvalidArgumentError("normalized difference: band out of range");
    }
    const auto dst = t.Out<float>(0);
    Rows& rows = t.GetScratch<Rows>();
    std::vector<float>& a = rows.a;
    std::vector<float>& b = rows.b;
    a.resize(dst.cols());
    b.resize(dst.cols());
    for (int y = 0; y < dst.rows(); ++y) {
      LoadRow(t, ia, ba, y, a);
      LoadRow(t, ib, bb, y, b);
      RatioRow(a.data(), b.data(), epsilon, dst.Row(0, y), dst.cols());
    }
    return absl::OkStatus();
  };
  return f;
}

}  // namespace eoscale::filters
