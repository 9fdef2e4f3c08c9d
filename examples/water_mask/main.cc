// water_mask: the seed page's 4-date water mask, streamed by tiles.
//
//   date_k.tif (bands 2, 4) ── ndwi (f32) ── threshold > 0 (u8) ──┐
//   ...  one chain per date                                      ├── and ──┬── OUTPUT.tif
//                                                                 ┘         └── count water pixels
//
// Usage: water_mask [--workers N] [--tile-size PX] [--strips]
//                   [--memory-budget-mib N] [--dot FILE] [--trace FILE] [--report]
//                   OUTPUT.tif [INPUT.tif ...]
// With no input, a deterministic synthetic dataset (4 dates, 4 bands int16,
// 3500 x 3500) is generated first in a temporary folder.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "eoscale/graph/report.h"
#include "s2_like.h"
#include "water_mask.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: water_mask [--workers N] [--tile-size PX] [--strips] [--memory-budget-mib N]\n"
               "                  [--dot FILE] [--trace FILE] [--report] OUTPUT.tif [INPUT.tif ...]\n"
               "  --dot FILE     write the graph, annotated with the run's figures (Graphviz DOT)\n"
               "  --trace FILE   write every tile task as Chrome trace-event JSON (Perfetto)\n"
               "  --report       print the memory report per node\n"
               "With no INPUT, generates 4 synthetic dates of 3500x3500 first.\n");
}

bool ParseInt(const char* s, int64_t* v) { return absl::SimpleAtoi(s, v); }

}  // namespace

int main(int argc, char** argv) {
  eoscale::examples::WaterMaskOptions options;
  std::vector<std::string> positional;
  bool report = false;
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
    } else if (a == "--dot" || a == "--trace") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "water_mask: %s needs a file name\n", a.c_str());
        return 2;
      }
      (a == "--dot" ? options.dot_path : options.trace_path) = argv[++i];
    } else if (a == "--report") {
      report = true;
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
  // A one-line progress bar, updated in place, only on a terminal.
  const bool tty = ::isatty(STDOUT_FILENO);
  int last_percent = -1;
  if (tty) {
    options.progress = [&last_percent](const eoscale::Progress& p) {
      const int percent = static_cast<int>(100 * p.tiles_done / std::max<int64_t>(p.tiles_total, 1));
      if (percent != last_percent) {
        last_percent = percent;
        const int filled = percent / 4;
        std::printf("\r[%.*s%*s] %3d%%  %lld/%lld tile tasks", filled, "#########################", 25 - filled, "",
                    percent, static_cast<long long>(p.tiles_done), static_cast<long long>(p.tiles_total));
        std::fflush(stdout);
      }
      return true;
    };
  }
  auto result = eoscale::examples::RunWaterMask(inputs, output, options);
  if (tty && last_percent >= 0) std::printf("\n");
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
  if (report) std::printf("\n%s", eoscale::FormatMemoryReport(s).c_str());
  if (!options.dot_path.empty()) std::printf("graph written to %s\n", options.dot_path.c_str());
  if (!options.trace_path.empty()) std::printf("trace written to %s\n", options.trace_path.c_str());
  return 0;
}
