// water_mask: the seed page's 4-date water mask, streamed by tiles.
//
//   date_k.tif (bands 2, 4) ── ndwi (f32) ── threshold > 0 (u8) ──┐
//   ...  one chain per date                                      ├── and ──┬── OUTPUT.tif
//                                                                 ┘         └── count water pixels
//
// Usage: water_mask [--workers N] [--tile-size PX] [--strips]
//                   [--memory-budget-mib N] OUTPUT.tif [INPUT.tif ...]
// With no input, a deterministic synthetic dataset (4 dates, 4 bands int16,
// 3500 x 3500) is generated first in a temporary folder.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "s2_like.h"
#include "water_mask.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: water_mask [--workers N] [--tile-size PX] [--strips] [--memory-budget-mib N]\n"
               "                  OUTPUT.tif [INPUT.tif ...]\n"
               "With no INPUT, generates 4 synthetic dates of 3500x3500 first.\n");
}

bool ParseInt(const char* s, int64_t* v) { return absl::SimpleAtoi(s, v); }

}  // namespace

int main(int argc, char** argv) {
  eoscale::examples::WaterMaskOptions options;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    int64_t v = 0;
    auto next_int = [&](const char* what) {
      if (i + 1 >= argc || !ParseInt(argv[i + 1], &v) || v < 0) {
        std::fprintf(stderr, "water_mask: %s needs a non-negative integer\n", what);
        std::exit(2);
      }
      ++i;
      return v;
    };
    if (a == "--workers") {
      options.workers = static_cast<int>(next_int("--workers"));
    } else if (a == "--tile-size") {
      options.tiling.tile_size = static_cast<int>(next_int("--tile-size"));
    } else if (a == "--strips") {
      options.tiling.mode = eoscale::TileMode::kStrips;
    } else if (a == "--memory-budget-mib") {
      options.memory_budget_bytes = next_int("--memory-budget-mib") << 20;
    } else if (a == "-h" || a == "--help") {
      Usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "water_mask: unknown option %s\n", a.c_str());
      Usage();
      return 2;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty()) {
    Usage();
    return 2;
  }
  const std::string output = positional[0];
  std::vector<std::string> inputs(positional.begin() + 1, positional.end());
  std::string tmpdir;
  if (inputs.empty()) {
    char templ[] = "/tmp/eoscale-water-XXXXXX";
    if (::mkdtemp(templ) == nullptr) {
      std::perror("water_mask: mkdtemp");
      return 1;
    }
    tmpdir = templ;
    std::printf("generating 4 synthetic dates of 3500x3500 in %s ...\n", tmpdir.c_str());
    auto made = eoscale::examples::MakeS2Like(tmpdir, 3500, 4);
    if (!made.ok()) {
      std::fprintf(stderr, "water_mask: %s\n", std::string(made.status().message()).c_str());
      std::filesystem::remove_all(tmpdir);
      return 1;
    }
    inputs = *made;
  }
  auto result = eoscale::examples::RunWaterMask(inputs, output, options);
  if (!tmpdir.empty()) std::filesystem::remove_all(tmpdir);
  if (!result.ok()) {
    std::fprintf(stderr, "water_mask: %s\n", result.status().ToString().c_str());
    return 1;
  }
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  const auto& s = result->stats;
  std::printf("wrote %s (%d dates, tiles %dx%d, %d workers)\n", output.c_str(), static_cast<int>(inputs.size()),
              s.tile_width, s.tile_height, options.workers);
  std::printf("wall seconds        %.3f\n", s.wall_seconds);
  std::printf("megapixels/second   %.1f\n", static_cast<double>(result->pixels) / s.wall_seconds / 1e6);
  std::printf("peak live bytes     %lld (%.1f MiB, budget %.1f MiB)\n", static_cast<long long>(s.peak_live_bytes),
              s.peak_live_bytes / 1048576.0, s.budget_bytes / 1048576.0);
  std::printf("peak RSS            %.1f MiB\n", ru.ru_maxrss / 1024.0);
  std::printf("water pixels        %lld of %lld\n", static_cast<long long>(result->water_pixels),
              static_cast<long long>(result->pixels));
  return 0;
}
