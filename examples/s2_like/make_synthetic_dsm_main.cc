// make_synthetic_dsm OUT.tif [--width W] [--height H] [--seed S] [--epsg N]
//
// Writes the synthetic DSM of synthetic_dsm.h (float32, nodata -32768,
// terrain, buildings and holes of every size). The defaults give the DSM the
// tests and the tutorials use in place of EOScale's dsm.tif: 512 x 512,
// seed 1, EPSG:32631.
#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "cpl_conv.h"
#include "ogr_srs_api.h"
#include "synthetic_dsm.h"

namespace {

constexpr char kUsage[] =
    "usage: make_synthetic_dsm OUT.tif [--width W] [--height H] [--seed S] [--epsg N]\n"
    "Writes a synthetic float32 DSM with nodata (-32768) holes; defaults 512 x 512,\n"
    "seed 1, EPSG:32631 (--epsg 0: no CRS).\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "make_synthetic_dsm: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  int width = 512, height = 512, epsg = 32631;
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--width" || arg == "--height" || arg == "--seed" || arg == "--epsg") {
      if (i + 1 >= argc) return Fail(arg + " needs a value\n" + kUsage);
      const std::string value = argv[++i];
      bool ok = false;
      if (arg == "--width") ok = absl::SimpleAtoi(value, &width) && width > 0;
      if (arg == "--height") ok = absl::SimpleAtoi(value, &height) && height > 0;
      if (arg == "--seed") ok = absl::SimpleAtoi(value, &seed);
      if (arg == "--epsg") ok = absl::SimpleAtoi(value, &epsg) && epsg >= 0;
      if (!ok) return Fail("bad value for " + arg + ": '" + value + "'");
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-') return Fail("unknown option " + arg + "\n" + kUsage);
    if (!out.empty()) return Fail("more than one OUT.tif given\n" + std::string(kUsage));
    out = arg;
  }
  if (out.empty()) return Fail(std::string("missing OUT.tif\n") + kUsage);

  std::string wkt;
  if (epsg != 0) {
    OGRSpatialReferenceH srs = OSRNewSpatialReference(nullptr);
    char* text = nullptr;
    if (OSRImportFromEPSG(srs, epsg) != OGRERR_NONE || OSRExportToWkt(srs, &text) != OGRERR_NONE) {
      OSRDestroySpatialReference(srs);
      return Fail("unknown EPSG code " + std::to_string(epsg));
    }
    wkt = text;
    CPLFree(text);
    OSRDestroySpatialReference(srs);
  }
  if (absl::Status s = eoscale::examples::MakeSyntheticDsm(out, width, height, seed, wkt); !s.ok()) {
    std::fprintf(stderr, "make_synthetic_dsm: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
