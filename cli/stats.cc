// eoscale stats: exact per-band statistics and histograms as JSON.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "args.h"
#include "commands.h"
#include "crop_source.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/filters/histogram.h"
#include "eoscale/filters/statistics.h"
#include "json.h"
#include "session.h"

namespace eoscale::cli {

namespace {

const char kStatsHelp[] =
    "usage: eoscale stats -i FILE [--bands LIST] [--histogram-bins N] [--histogram-range MIN,MAX]\n"
    "                     [common options]\n"
    "\n"
    "Per band: count of valid samples (neither nodata nor NaN), min, max, mean and population\n"
    "standard deviation, as JSON on stdout. Sums are exact, so the figures are bitwise the\n"
    "same for every worker count and tile size. With --histogram-bins, each band also gets\n"
    "N bins of equal width from its min to its max (or over --histogram-range), the last bin\n"
    "closed (numpy.histogram's convention); this takes a second pass over the file.\n"
    "--window/--bbox give the statistics of that window of the file.\n"
    "\n"
    "  -i, --input FILE        the raster (also accepted as the only positional argument)\n"
    "  --bands LIST            bands to describe, e.g. 2,4 (default: all)\n"
    "  --histogram-bins N      add a histogram of N bins per band (1 to 1000000)\n"
    "  --histogram-range MIN,MAX  the histogram's range (default: each band's min and max)\n"
    "\n"
    "Examples:\n"
    "  eoscale stats -i dsm.tif\n"
    "  eoscale stats -i s2.tif --bands 2,4 --histogram-bins 32 --window 0,0,1024,1024\n"
    "\n"
    "Output:\n"
    "  {\"file\": \"dsm.tif\", \"width\": 512, \"height\": 512, \"window\": null, \"bands\": [\n"
    "    {\"band\": 1, \"type\": \"Float32\", \"nodata\": -32768, \"count\": 251234, \"min\": 12.5,\n"
    "     \"max\": 80.25, \"mean\": 40.1, \"std\": 9.8, \"histogram\": {\"min\": 12.5, \"max\": 80.25,\n"
    "     \"counts\": [...]}}]}\n"
    "\n";

}  // namespace

int StatsCommand(const std::vector<std::string>& args) {
  CommonOptions common;
  std::string path;
  std::vector<int> bands;
  int bins = 0;
  std::optional<std::pair<double, double>> range;
  ArgReader r(args);
  auto set_path = [&](const std::string& p) {
    if (!path.empty()) throw UsageError(absl::StrCat("one input only ('", path, "' and '", p, "')"));
    path = p;
  };
  while (!r.Done()) {
    const std::string a = r.Next();
    if (a == "-h" || a == "--help") {
      std::printf("%s%s", kStatsHelp, CommonOptionsHelp(false).c_str());
      return kExitOk;
    } else if (a == "-i" || a == "--input") {
      set_path(r.Value(a));
    } else if (a == "--bands" || a == "-b") {
      bands = ParseBandList(a, r.Value(a));
    } else if (a == "--histogram-bins") {
      bins = static_cast<int>(ParseInteger(a, r.Value(a), 1, 1000000));
    } else if (a == "--histogram-range") {
      const std::string v = r.Value(a);
      const size_t comma = v.find(',');
      if (comma == std::string::npos) throw UsageError(absl::StrCat(a, " takes MIN,MAX, got '", v, "'"));
      range = {ParseNumber(a, v.substr(0, comma)), ParseNumber(a, v.substr(comma + 1))};
      if (!(range->first < range->second)) throw UsageError(absl::StrCat(a, " needs MIN < MAX, got '", v, "'"));
    } else if (ParseCommonOption(a, r, /*writes=*/false, &common)) {
    } else if (LooksLikeOption(a)) {
      throw UsageError(absl::StrCat("unknown option ", a, " (see eoscale stats --help)"));
    } else {
      set_path(a);
    }
  }
  if (path.empty()) throw UsageError("no input: give -i FILE");
  if (range && bins == 0) throw UsageError("--histogram-range needs --histogram-bins");

  Session session("stats", common);
  absl::StatusOr<Context*> ctx = session.context();
  if (!ctx.ok()) throw UsageError(ctx.status().ToString());
  std::shared_ptr<RasterFormat> format = DefaultRasterFormat();
  // Opens `path` on `b`, cropped to the region.
  std::optional<Window> region;
  auto open = [&](std::vector<int> b) -> Image {
    absl::StatusOr<std::shared_ptr<RasterSource>> src = format->Open(path, std::move(b));
    if (!src.ok()) throw UsageError(std::string(src.status().message()));
    if (!region) region = session.Region((*src)->profile(), path);
    std::shared_ptr<RasterSource> s = *src;
    if (region) s = std::make_shared<CropSource>(s, *region);
    absl::StatusOr<Image> img = (*ctx)->Open(s);
    if (!img.ok()) throw UsageError(std::string(img.status().message()));
    return *img;
  };
  const Image image = open(bands);
  const Profile profile = *image.profile();
  if (bands.empty()) {
    for (int b = 1; b <= profile.bands; ++b) bands.push_back(b);
  }
  absl::StatusOr<Reduction<std::vector<filters::BandStatistics>>> stats =
      (*ctx)->Reduce<std::vector<filters::BandStatistics>>({image}, filters::Statistics());
  if (!stats.ok()) throw UsageError(std::string(stats.status().message()));
  if (int code = session.Run(); code != kExitOk) return code;
  absl::StatusOr<std::vector<filters::BandStatistics>> s = stats->Get();
  if (!s.ok()) {
    session.Error(s.status().ToString());
    return kExitFailure;
  }
  // The histograms: one reduction per band (its own edges), in one run.
  std::vector<std::vector<double>> edges(bands.size());
  std::vector<Reduction<filters::HistogramCounts>> histograms(bands.size());
  if (bins > 0) {
    for (size_t i = 0; i < bands.size(); ++i) {
      const filters::BandStatistics& b = (*s)[i];
      if (b.count == 0 && !range) continue;
      double lo = range ? range->first : b.min, hi = range ? range->second : b.max;
      if (lo == hi) {  // numpy's range for a constant band
        lo -= 0.5;
        hi += 0.5;
      }
      edges[i] = filters::UniformEdges(lo, hi, bins);
      absl::StatusOr<Reduction<filters::HistogramCounts>> h =
          (*ctx)->Reduce<filters::HistogramCounts>({open({bands[i]})}, filters::Histogram(edges[i]));
      if (!h.ok()) {
        session.Error(h.status().ToString());
        return kExitFailure;
      }
      histograms[i] = *h;
    }
    if (int code = session.Run(); code != kExitOk) return code;
  }
  std::string json = absl::StrCat("{\"file\": ", JsonString(path), ", \"width\": ", profile.width,
                                  ", \"height\": ", profile.height, ", \"window\": ");
  if (region) {
    absl::StrAppend(&json, "[", region->x, ", ", region->y, ", ", region->width, ", ", region->height, "]");
  } else {
    json += "null";
  }
  json += ", \"bands\": [";
  for (size_t i = 0; i < bands.size(); ++i) {
    const filters::BandStatistics& b = (*s)[i];
    absl::StrAppend(&json, i ? ",\n  " : "\n  ", "{\"band\": ", bands[i],
                    ", \"type\": ", JsonString(GdalTypeName(profile.type)),
                    ", \"nodata\": ", profile.nodata ? JsonNumber(*profile.nodata) : "null", ", \"count\": ", b.count,
                    ", \"min\": ", JsonNumber(b.min), ", \"max\": ", JsonNumber(b.max),
                    ", \"mean\": ", JsonNumber(b.mean), ", \"std\": ", JsonNumber(b.stddev));
    if (bins > 0) {
      json += ", \"histogram\": ";
      if (edges[i].empty()) {
        json += "null";
      } else {
        absl::StatusOr<filters::HistogramCounts> h = histograms[i].Get();
        if (!h.ok()) {
          session.Error(h.status().ToString());
          return kExitFailure;
        }
        absl::StrAppend(&json, "{\"min\": ", JsonNumber(edges[i].front()), ", \"max\": ", JsonNumber(edges[i].back()),
                        ", \"counts\": [");
        for (size_t k = 0; k < (*h)[0].size(); ++k) absl::StrAppend(&json, k ? ", " : "", (*h)[0][k]);
        json += "]}";
      }
    }
    json += "}";
  }
  json += "\n]}\n";
  std::fputs(json.c_str(), stdout);
  return kExitOk;
}

}  // namespace eoscale::cli
