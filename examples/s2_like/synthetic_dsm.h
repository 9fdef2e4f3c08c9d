// A synthetic DSM (digital surface model) with nodata holes, for the
// pipeline example, the benchmarks and the tests: float32, nodata -32768,
// a smooth terrain with box-shaped buildings and holes of every size.
// Header-only (the benchmarks include it through pipeline.h; the tests
// through tests/test_util).
#ifndef EOSCALE_EXAMPLES_S2_LIKE_SYNTHETIC_DSM_H_
#define EOSCALE_EXAMPLES_S2_LIKE_SYNTHETIC_DSM_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "eoscale/core/array.h"
#include "eoscale/core/profile.h"
#include "eoscale/graph/context.h"

namespace eoscale::examples {

// Writes a synthetic DSM to `path`: float32, `width` x `height`, nodata
// -32768, a smooth terrain with box-shaped buildings and holes of every size
// (single pixels to blocks wider than the fill's search distance).
// Deterministic for a seed: the same bytes on any machine. `crs_wkt`, when
// set, is written as the file's CRS. `progress` is the writing context's
// progress callback (returning false stops: CANCELLED, nothing written).
inline absl::Status MakeSyntheticDsm(const std::string& path, int width, int height, uint64_t seed = 1,
                                     const std::string& crs_wkt = "", ProgressCallback progress = nullptr) {
  Profile p;
  p.width = width;
  p.height = height;
  p.type = PixelType::kF32;
  p.nodata = -32768.0;
  p.geotransform = {570000.0, 0.5, 0.0, 4831000.0, 0.0, -0.5};
  p.crs_wkt = crs_wkt;
  Array a(p);
  auto s = a.MutableSamples<float>();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      s[static_cast<size_t>(y) * width + x] =
          static_cast<float>(100.0 + 15.0 * std::sin(x * 0.011) * std::cos(y * 0.017) + 0.2 * u(rng));
    }
  }
  auto box = [&](int x0, int y0, int w, int h, bool hole, float height_m) {
    for (int y = std::max(0, y0); y < std::min(height, y0 + h); ++y) {
      for (int x = std::max(0, x0); x < std::min(width, x0 + w); ++x) {
        float& v = s[static_cast<size_t>(y) * width + x];
        v = hole ? -32768.0f : v + height_m;
      }
    }
  };
  const int buildings = width * height / 4000;
  for (int i = 0; i < buildings; ++i) {
    box(static_cast<int>(u(rng) * width), static_cast<int>(u(rng) * height), 5 + static_cast<int>(u(rng) * 30),
        5 + static_cast<int>(u(rng) * 30), false, static_cast<float>(3.0 + 20.0 * u(rng)));
  }
  for (int i = 0; i < width * height / 500; ++i) {
    box(static_cast<int>(u(rng) * width), static_cast<int>(u(rng) * height), 1, 1, true, 0.0f);
  }
  for (int i = 0; i < buildings / 4; ++i) {
    box(static_cast<int>(u(rng) * width), static_cast<int>(u(rng) * height), 1 + static_cast<int>(u(rng) * 40),
        1 + static_cast<int>(u(rng) * 40), true, 0.0f);
  }
  box(width / 3, height / 3, 180, 160, true, 0.0f);  // most of it farther than 40 px from data

  ContextOptions options;
  options.progress = std::move(progress);
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(options);
  if (!ctx.ok()) return ctx.status();
  absl::StatusOr<Image> img = (*ctx)->FromArray(std::move(a));
  if (!img.ok()) return img.status();
  if (absl::Status st = (*ctx)->Write(*img, path); !st.ok()) return st;
  return (*ctx)->Run();
}

}  // namespace eoscale::examples

#endif  // EOSCALE_EXAMPLES_S2_LIKE_SYNTHETIC_DSM_H_
