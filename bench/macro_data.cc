#include "macro_data.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench_util.h"
#include "input_layouts.h"
#include "s2_like.h"
#include "synthetic_dsm.h"

namespace eoscale::bench {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kSeed = 42;
constexpr int kS2Bands = 4;  // MakeS2Like's

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string S2Dir(const DataOptions& o, int size, Layout layout, bool mosaic) {
  std::string name = absl::StrFormat("s2_like_%dpx_%ddates", size, o.dates);
  if (layout != Layout::kBand) absl::StrAppend(&name, "_", LayoutName(layout));
  if (mosaic) absl::StrAppend(&name, "_mosaic");
  return (o.root / name).string();
}

std::string DsmPath(const DataOptions& o, int size, bool mosaic) {
  if (mosaic) return (o.root / absl::StrFormat("synthetic_dsm_%dpx_mosaic", size) / "dsm.vrt").string();
  return (o.root / absl::StrFormat("synthetic_dsm_%dpx", size) / "dsm.tif").string();
}

// The files a run reads, for the warm-up (a jp2 stack reads its band files).
std::vector<std::string> FilesBehind(const DataOptions& o, Workload w, Layout layout, const std::string& data) {
  if (w == Workload::kPipeline) return {data};
  std::vector<std::string> files;
  for (const std::string& p : DatePaths(data, o.dates)) {
    files.push_back(p);
    if (layout == Layout::kJp2 && fs::path(data).filename().string().find("_mosaic") == std::string::npos) {
      for (int b = 1; b <= kS2Bands; ++b) files.push_back(Jp2BandPath(p, b));
    }
  }
  return files;
}

}  // namespace

const char* WorkloadName(Workload w) { return w == Workload::kWaterMask ? "water_mask" : "pipeline"; }

const char* LayoutName(Layout l) {
  switch (l) {
    case Layout::kBand: return "band";
    case Layout::kPixel: return "pixel";
    case Layout::kDeflate: return "deflate";
    case Layout::kJp2: return "jp2";
  }
  return "?";
}

absl::StatusOr<Layout> ParseLayout(absl::string_view name) {
  for (Layout l : {Layout::kBand, Layout::kPixel, Layout::kDeflate, Layout::kJp2}) {
    if (name == LayoutName(l)) return l;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown layout '", name, "' (band, pixel, deflate, jp2)"));
}

std::vector<std::string> DatePaths(const std::string& dir, int dates) {
  std::error_code ec;
  const char* ext = fs::is_regular_file(fs::path(dir) / "date_1.vrt", ec) ? ".vrt" : ".tif";
  std::vector<std::string> p;
  for (int d = 1; d <= dates; ++d) p.push_back((fs::path(dir) / absl::StrCat("date_", d, ext)).string());
  return p;
}

absl::Status RunGenJob(const GenJob& job) {
  std::error_code ec;
  if (job.kind == "gen_s2") {
    return examples::MakeS2Like(job.data, job.size, job.dates, kSeed).status();
  }
  if (job.kind == "gen_dsm") {
    // The file appears under its name only when complete (the engine writes
    // to a temporary name and renames): an existing file is reused.
    if (fs::is_regular_file(job.data, ec)) return absl::OkStatus();
    fs::create_directories(fs::path(job.data).parent_path(), ec);
    return examples::MakeSyntheticDsm(job.data, job.size, job.size);
  }
  if (job.kind == "gen_layout") {
    absl::StatusOr<Layout> layout = ParseLayout(job.layout);
    if (!layout.ok()) return layout.status();
    const std::vector<std::string> dates = DatePaths(job.data, job.dates);
    switch (*layout) {
      case Layout::kPixel: return PixelInterleavedCopies(dates, job.out);
      case Layout::kDeflate: return DeflateCopies(dates, job.out);
      case Layout::kJp2: return Jp2Copies(dates, job.out);
      case Layout::kBand: return absl::InvalidArgumentError("the band layout is generated, not derived");
    }
  }
  if (job.kind == "gen_mosaic") {
    if (!fs::is_directory(job.data, ec)) return WriteMosaicVrt(job.data, job.out);
    for (const std::string& date : DatePaths(job.data, job.dates)) {
      const std::string out = (fs::path(job.out) / fs::path(date).filename().replace_extension(".vrt")).string();
      if (absl::Status s = WriteMosaicVrt(date, out); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown generation job ", job.kind));
}

const Dataset& DatasetFor(const DataOptions& o, Workload w, Layout layout, int size) {
  static std::map<std::tuple<Workload, Layout, int>, Dataset> cache;
  auto [it, inserted] = cache.try_emplace({w, layout, size});
  Dataset& d = it->second;
  if (!inserted) return d;
  const bool mosaic = size > o.mosaic_above;
  GenJob job;
  job.size = size;
  job.dates = o.dates;
  job.layout = LayoutName(layout);
  if (w == Workload::kPipeline && layout != Layout::kBand) {
    d.error = absl::StrCat("the pipeline reads the band layout only, not ", LayoutName(layout));
    return d;
  }
  if (mosaic) {
    if (size % 2 != 0) {
      d.error = absl::StrCat("size ", size, " is above --mosaic_above=", o.mosaic_above,
                             ": a 2 x 2 mosaic, so it must be even");
      return d;
    }
    const Dataset& half = DatasetFor(o, w, layout, size / 2);
    if (!half.error.empty()) {
      d.error = half.error;
      return d;
    }
    job.kind = "gen_mosaic";
    job.data = half.data;
    d.data = w == Workload::kWaterMask ? S2Dir(o, size, layout, true) : DsmPath(o, size, true);
  } else if (w == Workload::kWaterMask && layout != Layout::kBand) {
    const Dataset& base = DatasetFor(o, w, Layout::kBand, size);
    if (!base.error.empty()) {
      d.error = base.error;
      return d;
    }
    job.kind = "gen_layout";
    job.data = base.data;
    d.data = S2Dir(o, size, layout, false);
  } else if (w == Workload::kWaterMask) {
    job.kind = "gen_s2";
    d.data = S2Dir(o, size, layout, false);
  } else {
    job.kind = "gen_dsm";
    d.data = DsmPath(o, size, false);
  }
  if (job.kind == "gen_s2" || job.kind == "gen_dsm") {
    job.data = d.data;
  } else {
    job.out = d.data;
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ChildOutcome> out = RunSelf(
      {"--child", absl::StrCat("--workload=", job.kind), absl::StrCat("--variant=", job.layout),
       absl::StrCat("--size=", size), absl::StrCat("--dates=", job.dates), absl::StrCat("--data=", job.data),
       absl::StrCat("--out=", job.out)});
  if (!out.ok() || !out->report.ok) {
    d.error = absl::StrCat(job.kind, " ", d.data, ": ", out.ok() ? out->report.error : out.status().ToString());
    return d;
  }
  absl::StatusOr<int64_t> warm = WarmUp(FilesBehind(o, w, layout, d.data));
  if (!warm.ok()) {
    d.error = warm.status().ToString();
    return d;
  }
  std::fprintf(stderr, "data: %s ready in %.1f s (%.0f MiB read once)\n", d.data.c_str(), Since(start),
               static_cast<double>(*warm) / (1024.0 * 1024.0));
  return d;
}

}  // namespace eoscale::bench
