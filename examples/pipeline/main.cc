// pipeline: EOScale's examples/pipeline.py in C++, step for step.
//
//   dsm.tif ──┬── nodata mask ──┬──────────────────────────── nodata_mask.tif
//             │                 │
//             └─────────────────┴── fill nodata (margin 100) ──┬── filled_dsm.tif
//                                                              │
//                                   uniform 3x3 (margin 1) ────┴──┬── smooth_dsm.tif
//                                                                 └── min / max
//
// Usage: pipeline [--workers N] [--tile-size PX] [--strips] [INPUT_DSM.tif] OUTDIR
// With no input, a synthetic DSM with holes is generated first
// (OUTDIR/synthetic_dsm.tif, 2000 x 1500).
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "pipeline.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: pipeline [--workers N] [--tile-size PX] [--strips] [INPUT_DSM.tif] OUTDIR\n"
               "Writes OUTDIR/{nodata_mask,filled_dsm,smooth_dsm}.tif and prints the smoothed DSM's\n"
               "min and max. With no input, generates OUTDIR/synthetic_dsm.tif first.\n");
}

}  // namespace

int main(int argc, char** argv) {
  eoscale::examples::PipelineOptions options;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next_int = [&](const char* what) {
      int v = 0;
      if (i + 1 >= argc || !absl::SimpleAtoi(argv[i + 1], &v) || v < 0) {
        std::fprintf(stderr, "pipeline: %s needs a non-negative integer\n", what);
        std::exit(2);
      }
      ++i;
      return v;
    };
    if (a == "--workers") {
      options.workers = next_int("--workers");
    } else if (a == "--tile-size") {
      options.tiling.tile_size = next_int("--tile-size");
    } else if (a == "--strips") {
      options.tiling.mode = eoscale::TileMode::kStrips;
    } else if (a == "-h" || a == "--help") {
      Usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "pipeline: unknown option %s\n", a.c_str());
      Usage();
      return 2;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty() || positional.size() > 2) {
    Usage();
    return 2;
  }
  const std::string outdir = positional.back();
  std::error_code ec;
  std::filesystem::create_directories(outdir, ec);
  if (ec) {
    std::fprintf(stderr, "pipeline: cannot create %s: %s\n", outdir.c_str(), ec.message().c_str());
    return 1;
  }
  std::string input;
  if (positional.size() == 2) {
    input = positional[0];
  } else {
    input = outdir + "/synthetic_dsm.tif";
    std::printf("generating a synthetic 2000x1500 DSM with holes: %s\n", input.c_str());
    if (absl::Status s = eoscale::examples::MakeSyntheticDsm(input, 2000, 1500); !s.ok()) {
      std::fprintf(stderr, "pipeline: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  auto result = eoscale::examples::RunPipeline(input, outdir, options);
  if (!result.ok()) {
    std::fprintf(stderr, "pipeline: %s\n", result.status().ToString().c_str());
    return 1;
  }
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  std::printf("wrote %s/{nodata_mask,filled_dsm,smooth_dsm}.tif in %.3f s (%d workers, tiles %dx%d)\n",
              outdir.c_str(), result->stats.wall_seconds, options.workers, result->stats.tile_width,
              result->stats.tile_height);
  std::printf("peak live bytes %.1f MiB, peak RSS %.1f MiB\n", result->stats.peak_live_bytes / 1048576.0,
              ru.ru_maxrss / 1024.0);
  std::printf("%.9g %.9g\n", result->min, result->max);  // as EOScale: print(stats[0], stats[1])
  return 0;
}
