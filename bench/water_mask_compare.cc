// water_mask_compare: the engine's 4-date water mask against a plain
// multi-threaded GDAL loop, in one invocation, on the same synthetic data.
//
//   date_1.tif ... date_D.tif  (generated once, cached)
//        |                 |
//   plain loop        engine (examples/water_mask)
//        |                 |
//   plain_1.tif       engine_1.tif   --> compared pixel for pixel
//
// Every run happens in its own forked child, so that each has its own peak
// RSS (wait4's ru_maxrss). The child measures its wall time around the call
// and passes it back through a pipe. The parent never starts oneTBB (data
// generation runs in a child too): a forked child of a process with a live
// TBB scheduler may hang. Before the runs, the parent reads the inputs once
// so that no run pays for the disk.
//
// A forked child (no exec) only counts the pages it touches: shared-library
// pages the loader touched in the parent are not in its RSS. Its peak RSS is
// about 20 MiB below that of the same work as a fresh process (/usr/bin/time);
// both variants are measured the same way.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cpl_error.h"
#include "gdal_priv.h"
#include "bench_util.h"
#include "input_layouts.h"
#include "plain_water_mask.h"
#include "s2_like.h"
#include "water_mask.h"

namespace eoscale::bench {
namespace {

constexpr uint32_t kSeed = 42;
constexpr int kCompareRows = 256;

constexpr char kUsage[] =
    "usage: water_mask_compare [--size N] [--dates D] [--workers W] [--repeat R]\n"
    "                          [--data-dir DIR] [--tile-size PX] [--memory-budget-mib N]\n"
    "                          [--interleave band|pixel] [--smoke]\n"
    "\n"
    "Times the engine's multi-date water mask against a plain multi-threaded GDAL\n"
    "loop on synthetic Sentinel-2-like data, runs alternating, each in a forked\n"
    "child (peak RSS per run), and checks the two outputs are identical.\n"
    "\n"
    "  --size N               image side in pixels (default 3500)\n"
    "  --dates D              dates (default 4)\n"
    "  --workers W            threads for both variants (default 2)\n"
    "  --repeat R             runs of each variant (default 3)\n"
    "  --data-dir DIR         input cache root (default $XDG_CACHE_HOME/eoscale or\n"
    "                         ~/.cache/eoscale); inputs go to DIR/s2_like_<N>px_<D>dates\n"
    "  --tile-size PX         engine tile size (default: the engine's)\n"
    "  --memory-budget-mib N  engine memory budget (default: the engine's)\n"
    "  --interleave pixel     pixel-interleaved inputs (GDAL's default for multi-band\n"
    "                         GeoTIFF), copied once from the band-interleaved dates\n"
    "                         into DIR/s2_like_<N>px_<D>dates_pixel (default: band)\n"
    "  --smoke                size 256, 2 dates, 1 run; inputs in the temporary\n"
    "                         directory unless --data-dir is given (for CI)\n"
    "  --help                 this text\n"
    "\n"
    "Exits non-zero when a run fails or the outputs differ.\n";

struct Options {
  int size = 3500;
  int dates = 4;
  int workers = 2;
  int repeat = 3;
  std::string data_dir;  // "" = the default cache root
  int tile_size = 0;
  int64_t memory_budget_mib = 0;
  bool pixel = false;  // --interleave pixel
  bool smoke = false;
};

absl::StatusOr<Options> ParseArgs(int argc, char** argv, bool* help) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  // --smoke sets defaults that explicit flags still override.
  if (std::find(args.begin(), args.end(), "--smoke") != args.end()) {
    o.smoke = true;
    o.size = 256;
    o.dates = 2;
    o.repeat = 1;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    if (name == "--help" || name == "-h") {
      *help = true;
      return o;
    }
    if (name == "--smoke") continue;
    std::string value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
    }
    bool ok = true;
    if (name == "--size") {
      ok = absl::SimpleAtoi(value, &o.size) && o.size > 0;
    } else if (name == "--dates") {
      ok = absl::SimpleAtoi(value, &o.dates) && o.dates > 0;
    } else if (name == "--workers") {
      ok = absl::SimpleAtoi(value, &o.workers) && o.workers > 0;
    } else if (name == "--repeat") {
      ok = absl::SimpleAtoi(value, &o.repeat) && o.repeat > 0;
    } else if (name == "--data-dir") {
      o.data_dir = value;
      ok = !value.empty();
    } else if (name == "--interleave") {
      ok = value == "band" || value == "pixel";
      o.pixel = value == "pixel";
    } else if (name == "--tile-size") {
      ok = absl::SimpleAtoi(value, &o.tile_size) && o.tile_size >= 0;
    } else if (name == "--memory-budget-mib") {
      ok = absl::SimpleAtoi(value, &o.memory_budget_mib) && o.memory_budget_mib >= 0;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", name));
    }
    if (!ok)
      return absl::InvalidArgumentError(absl::StrCat("bad value for ", name, ": '", value, "'"));
  }
  return o;
}

absl::StatusOr<std::filesystem::path> DefaultCacheRoot() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "eoscale";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "eoscale";
  }
  return absl::FailedPreconditionError("neither XDG_CACHE_HOME nor HOME is set: pass --data-dir");
}

// A fresh directory under the system's temporary directory, removed (with
// its content) on destruction.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create() {
    std::error_code ec;
    std::string pattern =
        (std::filesystem::temp_directory_path(ec) / "water_mask_compare.XXXXXX").string();
    if (ec) return absl::UnavailableError(absl::StrCat("no temporary directory: ", ec.message()));
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("cannot create '", pattern, "': ", std::strerror(errno)));
    }
    return std::unique_ptr<TempDir>(new TempDir(pattern));
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempDir(std::filesystem::path p) : path_(std::move(p)) {}
  std::filesystem::path path_;
};

// What a child sends back through its pipe. Plain bytes: parent and child
// are the same binary.
struct ChildReport {
  int ok = 0;
  double wall_seconds = 0;
  int64_t water_pixels = 0;
  int64_t pixels = 0;
  int64_t peak_live_bytes = 0;  // engine only
  char error[1024] = {};
};

struct ChildOutcome {
  ChildReport report;
  double max_rss_mib = 0;
};



void SetError(ChildReport* report, const absl::Status& status) {
  report->ok = 0;
  std::snprintf(report->error, sizeof(report->error), "%s", status.ToString().c_str());
}

// Runs `body` in a forked child (bench_util's RunForked) and returns its
// report and peak RSS.
absl::StatusOr<ChildOutcome> RunInChild(const std::function<void(ChildReport*)>& body) {
  ChildOutcome outcome;
  absl::StatusOr<int64_t> rss =
      RunForked([&](void* r) { body(static_cast<ChildReport*>(r)); }, &outcome.report, sizeof(ChildReport));
  if (!rss.ok()) return rss.status();
  outcome.report.error[sizeof(outcome.report.error) - 1] = '\0';
  outcome.max_rss_mib = static_cast<double>(*rss) / (1 << 20);
  return outcome;
}


double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void RunPlainChild(const std::vector<std::string>& inputs, const std::string& output, int workers,
                   ChildReport* report) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<PlainResult> r = RunPlainWaterMask(inputs, output, workers);
  const double wall = Seconds(start);
  if (!r.ok()) return SetError(report, r.status());
  report->ok = 1;
  report->wall_seconds = wall;
  report->water_pixels = r->water_pixels;
  report->pixels = r->pixels;
}

void RunEngineChild(const std::vector<std::string>& inputs, const std::string& output,
                    const Options& o, ChildReport* report) {
  examples::WaterMaskOptions options;
  options.workers = o.workers;
  options.tiling.tile_size = o.tile_size;
  options.memory_budget_bytes = o.memory_budget_mib << 20;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<examples::WaterMaskResult> r = examples::RunWaterMask(inputs, output, options);
  const double wall = Seconds(start);
  if (!r.ok()) return SetError(report, r.status());
  report->ok = 1;
  report->wall_seconds = wall;
  report->water_pixels = r->water_pixels;
  report->pixels = r->pixels;
  report->peak_live_bytes = r->stats.peak_live_bytes;
}

struct Variant {
  std::string name;
  std::vector<double> walls;
  double max_rss_mib = 0;
  int64_t water_pixels = -1;
  int64_t pixels = 0;
  int64_t peak_live_bytes = 0;
  std::string first_output;

  double Best() const { return *std::min_element(walls.begin(), walls.end()); }
  double Median() const {
    std::vector<double> w = walls;
    std::sort(w.begin(), w.end());
    const size_t n = w.size();
    return n % 2 == 1 ? w[n / 2] : 0.5 * (w[n / 2 - 1] + w[n / 2]);
  }
};

// Counts the pixels where the first band of `a` and `b` differ.
absl::StatusOr<int64_t> CountDifferences(const std::string& a, const std::string& b) {
  GDALAllRegister();
  CPLPushErrorHandler(CPLQuietErrorHandler);
  std::unique_ptr<GDALDataset> da(
      GDALDataset::Open(a.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
  std::unique_ptr<GDALDataset> db(
      GDALDataset::Open(b.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
  CPLPopErrorHandler();
  if (da == nullptr) return absl::NotFoundError(absl::StrCat("cannot open '", a, "'"));
  if (db == nullptr) return absl::NotFoundError(absl::StrCat("cannot open '", b, "'"));
  const int w = da->GetRasterXSize();
  const int h = da->GetRasterYSize();
  if (db->GetRasterXSize() != w || db->GetRasterYSize() != h || da->GetRasterCount() != 1 ||
      db->GetRasterCount() != 1) {
    return absl::FailedPreconditionError(
        absl::StrFormat("'%s' is %dx%dx%d, '%s' is %dx%dx%d", a, w, h, da->GetRasterCount(), b,
                        db->GetRasterXSize(), db->GetRasterYSize(), db->GetRasterCount()));
  }
  std::vector<uint8_t> ra(static_cast<size_t>(w) * kCompareRows);
  std::vector<uint8_t> rb(ra.size());
  int64_t differences = 0;
  for (int y = 0; y < h; y += kCompareRows) {
    const int rows = std::min(kCompareRows, h - y);
    if (da->GetRasterBand(1)->RasterIO(GF_Read, 0, y, w, rows, ra.data(), w, rows, GDT_Byte, 0, 0,
                                       nullptr) != CE_None ||
        db->GetRasterBand(1)->RasterIO(GF_Read, 0, y, w, rows, rb.data(), w, rows, GDT_Byte, 0, 0,
                                       nullptr) != CE_None) {
      return absl::DataLossError(absl::StrCat("cannot read rows ", y, ".. of the outputs"));
    }
    const size_t n = static_cast<size_t>(w) * rows;
    for (size_t i = 0; i < n; ++i) differences += ra[i] != rb[i];
  }
  return differences;
}

int Main(int argc, char** argv) {
  bool help = false;
  absl::StatusOr<Options> parsed = ParseArgs(argc, argv, &help);
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!parsed.ok()) {
    std::fprintf(stderr, "water_mask_compare: %s\n\n%s",
                 std::string(parsed.status().message()).c_str(), kUsage);
    return 2;
  }
  const Options o = *parsed;

  absl::StatusOr<std::unique_ptr<TempDir>> tmp = TempDir::Create();
  if (!tmp.ok()) {
    std::fprintf(stderr, "water_mask_compare: %s\n", tmp.status().ToString().c_str());
    return 1;
  }
  const std::filesystem::path& work = (*tmp)->path();

  std::filesystem::path root;
  if (!o.data_dir.empty()) {
    root = o.data_dir;
  } else if (o.smoke) {
    root = work;
  } else {
    absl::StatusOr<std::filesystem::path> r = DefaultCacheRoot();
    if (!r.ok()) {
      std::fprintf(stderr, "water_mask_compare: %s\n", r.status().ToString().c_str());
      return 1;
    }
    root = *r;
  }
  const std::string data_dir =
      (root / absl::StrFormat("s2_like_%dpx_%ddates", o.size, o.dates)).string();

  std::printf("water_mask_compare: %d x %d px, %d dates (%s-interleaved), %d workers, %d runs each", o.size,
              o.size, o.dates, o.pixel ? "pixel" : "band", o.workers, o.repeat);
  if (o.tile_size > 0) std::printf(", engine tile %d px", o.tile_size);
  if (o.memory_budget_mib > 0)
    std::printf(", engine budget %lld MiB", static_cast<long long>(o.memory_budget_mib));
  std::printf("\n");

  // Inputs: generated (or found complete) in a child, so oneTBB never starts here.
  absl::StatusOr<ChildOutcome> gen = RunInChild([&](ChildReport* report) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<std::string>> paths =
        examples::MakeS2Like(data_dir, o.size, o.dates, kSeed);
    if (!paths.ok()) return SetError(report, paths.status());
    if (o.pixel) {
      absl::Status st = PixelInterleavedCopies(*paths, data_dir + "_pixel");
      if (!st.ok()) return SetError(report, st);
    }
    report->ok = 1;
    report->wall_seconds = Seconds(start);
  });
  if (!gen.ok() || !gen->report.ok) {
    std::fprintf(stderr, "water_mask_compare: generating inputs in %s: %s\n", data_dir.c_str(),
                 gen.ok() ? gen->report.error : gen.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> inputs;
  for (int d = 1; d <= o.dates; ++d) {
    inputs.push_back(
        (std::filesystem::path(o.pixel ? data_dir + "_pixel" : data_dir) / absl::StrCat("date_", d, ".tif")).string());
  }
  const auto warm_start = std::chrono::steady_clock::now();
  absl::StatusOr<int64_t> warm = WarmUp(inputs);
  if (!warm.ok()) {
    std::fprintf(stderr, "water_mask_compare: %s\n", warm.status().ToString().c_str());
    return 1;
  }
  std::printf("inputs: %s/date_{1..%d}.tif (ready in %.2f s, %.0f MiB read once in %.2f s)\n",
              data_dir.c_str(), o.dates, gen->report.wall_seconds,
              static_cast<double>(*warm) / (1 << 20), Seconds(warm_start));

  Variant plain;
  plain.name = "plain";
  Variant engine;
  engine.name = "engine";
  for (int run = 1; run <= o.repeat; ++run) {
    for (Variant* v : {&plain, &engine}) {
      const std::string output = (work / absl::StrCat(v->name, "_", run, ".tif")).string();
      absl::StatusOr<ChildOutcome> outcome = RunInChild([&](ChildReport* report) {
        if (v == &plain) {
          RunPlainChild(inputs, output, o.workers, report);
        } else {
          RunEngineChild(inputs, output, o, report);
        }
      });
      if (!outcome.ok() || !outcome->report.ok) {
        std::fprintf(stderr, "water_mask_compare: %s run %d failed: %s\n", v->name.c_str(), run,
                     outcome.ok() ? outcome->report.error : outcome.status().ToString().c_str());
        return 1;
      }
      const ChildReport& r = outcome->report;
      std::printf("  run %d %-6s  %8.3f s  %8.1f Mpx/s  peak RSS %7.1f MiB  water %lld\n", run,
                  v->name.c_str(), r.wall_seconds,
                  static_cast<double>(r.pixels) / r.wall_seconds / 1e6, outcome->max_rss_mib,
                  static_cast<long long>(r.water_pixels));
      if (v->water_pixels >= 0 && v->water_pixels != r.water_pixels) {
        std::fprintf(stderr, "water_mask_compare: %s counted %lld water pixels, earlier %lld\n",
                     v->name.c_str(), static_cast<long long>(r.water_pixels),
                     static_cast<long long>(v->water_pixels));
        return 1;
      }
      v->walls.push_back(r.wall_seconds);
      v->max_rss_mib = std::max(v->max_rss_mib, outcome->max_rss_mib);
      v->water_pixels = r.water_pixels;
      v->pixels = r.pixels;
      v->peak_live_bytes = std::max(v->peak_live_bytes, r.peak_live_bytes);
      if (v->first_output.empty()) {
        v->first_output = output;
      } else {
        std::error_code ec;
        std::filesystem::remove(output, ec);  // keep the disk footprint to one output each
      }
    }
  }

  std::printf("\n%-8s %9s %9s %12s %14s %14s\n", "variant", "best s", "median s", "Mpx/s (med)",
              "peak RSS MiB", "water px");
  for (const Variant* v : {&plain, &engine}) {
    std::printf("%-8s %9.3f %9.3f %12.1f %14.1f %14lld\n", v->name.c_str(), v->Best(), v->Median(),
                static_cast<double>(v->pixels) / v->Median() / 1e6, v->max_rss_mib,
                static_cast<long long>(v->water_pixels));
  }
  std::printf("engine peak live tile bytes: %lld (%.1f MiB)\n",
              static_cast<long long>(engine.peak_live_bytes),
              static_cast<double>(engine.peak_live_bytes) / (1 << 20));
  std::printf("engine/plain median wall: %.2f\n", engine.Median() / plain.Median());

  absl::StatusOr<int64_t> differences = CountDifferences(plain.first_output, engine.first_output);
  if (!differences.ok()) {
    std::fprintf(stderr, "water_mask_compare: comparing outputs: %s\n",
                 differences.status().ToString().c_str());
    return 1;
  }
  if (*differences != 0 || plain.water_pixels != engine.water_pixels) {
    std::printf("outputs: DIFFERENT (%lld pixels differ; water %lld vs %lld)\n",
                static_cast<long long>(*differences), static_cast<long long>(plain.water_pixels),
                static_cast<long long>(engine.water_pixels));
    return 1;
  }
  std::printf("outputs: IDENTICAL\n");
  return 0;
}

}  // namespace
}  // namespace eoscale::bench

int main(int argc, char** argv) { return eoscale::bench::Main(argc, argv); }
