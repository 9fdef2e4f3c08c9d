// make_s2_like OUTDIR [--l2a] [--size N] [--dates D] [--seed S]
//
// Writes OUTDIR/date_1.tif ... date_D.tif, synthetic Sentinel-2-like 4-band
// int16 rasters (see s2_like.h), or with --l2a the same scenes as a
// Sentinel-2 L2A-like product of per-band JPEG 2000 files (s2_l2a_like.h),
// and prints the paths and the time taken.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "s2_l2a_like.h"
#include "s2_like.h"

namespace {

constexpr char kUsage[] =
    "usage: make_s2_like OUTDIR [--l2a] [--size N] [--dates D] [--seed S]\n"
    "\n"
    "Writes OUTDIR/date_1.tif ... OUTDIR/date_D.tif: synthetic Sentinel-2-like\n"
    "rasters, 4 bands (B, G, R, NIR) int16, N x N pixels, tiled 256, EPSG:32630,\n"
    "10 m pixels. Water (G > NIR) varies a little between dates. The output\n"
    "depends only on N, the date and the seed; complete files already present\n"
    "are kept.\n"
    "\n"
    "With --l2a, the same scenes as a Sentinel-2 L2A-like product: per date (10\n"
    "days apart from 2023-06-05) OUTDIR/T30TXN_<date>T105619_B03_10m.jp2 and\n"
    "_B08_10m.jp2 (N x N) and _B11_20m.jp2 (N/2 x N/2), UInt16 digital numbers\n"
    "reflectance x 10000 + 1000, lossless JPEG 2000 in 1024 x 1024 tiles.\n"
    "\n"
    "  --l2a       write the L2A-like JPEG 2000 product\n"
    "  --size N    image side in pixels (default 3500; 10980 is a full S2 tile)\n"
    "  --dates D   number of dates (default 4)\n"
    "  --seed S    random seed (default 42)\n"
    "  --help      this text\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "make_s2_like: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_dir;
  int size = 3500;
  int dates = 4;
  uint32_t seed = 42;
  bool l2a = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--l2a") {
      l2a = true;
      continue;
    }
    if (arg == "--size" || arg == "--dates" || arg == "--seed") {
      if (i + 1 >= argc) return Fail(arg + " needs a value\n" + kUsage);
      const std::string value = argv[++i];
      bool ok = false;
      if (arg == "--size") ok = absl::SimpleAtoi(value, &size);
      if (arg == "--dates") ok = absl::SimpleAtoi(value, &dates);
      if (arg == "--seed") ok = absl::SimpleAtoi(value, &seed);
      if (!ok) return Fail("bad value for " + arg + ": '" + value + "'");
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-') return Fail("unknown option " + arg + "\n" + kUsage);
    if (!out_dir.empty()) return Fail("more than one OUTDIR given\n" + std::string(kUsage));
    out_dir = arg;
  }
  if (out_dir.empty()) return Fail(std::string("missing OUTDIR\n") + kUsage);

  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<std::string>> paths;
  if (l2a) {
    auto product = eoscale::examples::MakeS2L2aLike(out_dir, size, dates, seed);
    if (product.ok()) {
      paths.emplace();
      for (const auto& d : *product) paths->insert(paths->end(), {d.b03, d.b08, d.b11});
    } else {
      paths = product.status();
    }
  } else {
    paths = eoscale::examples::MakeS2Like(out_dir, size, dates, seed);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!paths.ok()) return Fail(std::string(paths.status().message()));
  for (const std::string& p : *paths) std::printf("%s\n", p.c_str());
  std::printf("%d x %d x %d dates in %.2f s\n", size, size, dates, seconds);
  return 0;
}
