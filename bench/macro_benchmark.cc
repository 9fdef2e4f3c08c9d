// macro_benchmark: whole workloads, three ways, in one process run.
//
//   workload      water_mask: 4 dates of S2-like data (NDWI > 0 on every date)
//                 pipeline:   EOScale's pipeline.py (examples/pipeline): nodata
//                             mask -> fill nodata (search distance 100) ->
//                             uniform 3 -> min/max, writing the mask, the
//                             filled and the smoothed DSM, on the example's
//                             synthetic DSM with holes (MakeSyntheticDsm)
//   variant       engine:   this engine, streaming tiles: the examples' own
//                           functions (RunWaterMask, RunPipeline)
//                 plain:    a hand-written multi-threaded GDAL loop, no framework
//                           (plain_water_mask.h, plain_pipeline.h)
//                 keep_all: EOScale's strategy with the same filters: every
//                           stage ReadAll()s its output whole into an Array and
//                           the next stage reads it back with FromArray(); every
//                           intermediate stays in memory until the end
//
// Each run is a fresh process (this binary re-executed with --child, see
// bench_util.h): its peak RSS is that of a fresh process, read by the child
// (getrusage) as soon as the work ends. The child times the work itself
// (from the Context's creation or the plain loop's call to the closed
// output file) and reports it; that time is the benchmark's manual time. Every variant writes its output; the child then hashes the
// output's pixels (outside the timing) and the parent checks that every
// variant and configuration of a workload and size gives the same pixels
// and the same result (water pixels; min/max).
//
// Benchmarks are named <group>/<variant>; run with
// --benchmark_repetitions=N --benchmark_enable_random_interleaving=true so
// that the variants alternate, and read the summary table at the end
// (medians, and wall time as a ratio to the plain loop of the same group).
//
// Data comes from the examples' synthetic generators (MakeS2Like,
// MakeSyntheticDsm),
// created on first use under the cache root (bench_util.h: CacheRoot) and
// read once before the first timed run so that no run pays for the disk.
// The parent never starts oneTBB: generation runs in a child too.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench_util.h"
#include "benchmark/benchmark.h"
#include "eoscale/core/array.h"
#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/logical.h"
#include "eoscale/filters/min_max.h"
#include "eoscale/filters/nodata_mask.h"
#include "eoscale/filters/normalized_difference.h"
#include "eoscale/filters/threshold.h"
#include "eoscale/filters/uniform.h"
#include "eoscale/graph/context.h"
#include "plain_pipeline.h"
#include "pipeline.h"
#include "plain_water_mask.h"
#include "s2_like.h"
#include "water_mask.h"

namespace eoscale::bench {
namespace {

constexpr uint32_t kSeed = 42;
constexpr double kMiB = 1024.0 * 1024.0;

constexpr char kUsage[] =
    "usage: macro_benchmark [benchmark flags] [--sizes=1024,3500,10980] [--workers=2]\n"
    "                       [--dates=4] [--data_dir=DIR] [--scaling_size=3500]\n"
    "                       [--scaling_workers=1,2] [--scaling_tiles=128,256,512,1024,2048]\n"
    "                       [--workloads=water_mask,pipeline] [--no_verify] [--smoke]\n"
    "\n"
    "Benchmarks (filter with --benchmark_filter):\n"
    "  <workload>/<size>px/workers:<W>/{plain,engine,keep_all}\n"
    "  scaling/<workload>/<size>px/workers:<W>/{plain,engine@<tile>}\n"
    "Each run is a fresh child process (peak RSS per run). Suggested:\n"
    "  --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true\n"
    "--smoke: tiny sizes, 2 dates, data in a temporary folder (for CI).\n";

enum class Workload { kWaterMask, kPipeline };
const char* WorkloadName(Workload w) { return w == Workload::kWaterMask ? "water_mask" : "pipeline"; }

struct Flags {
  std::vector<int> sizes = {1024, 3500, 10980};
  int workers = 2;
  int dates = 4;
  std::string data_dir;
  int scaling_size = 3500;
  std::vector<int> scaling_workers = {1, 2};
  std::vector<int> scaling_tiles = {128, 256, 512, 1024, 2048};
  std::vector<Workload> workloads = {Workload::kWaterMask, Workload::kPipeline};
  bool verify = true;
  bool smoke = false;
};

// ---------------------------------------------------------------------------
// Child side: one run of one variant.

struct ChildArgs {
  std::string workload;  // water_mask, pipeline, gen_s2, gen_dsm
  std::string variant;   // engine, plain, keep_all
  int size = 0;
  int dates = 4;
  int workers = 2;
  int tile = 0;
  std::string data;  // input folder (s2) or file (dsm); generation: the folder
  std::string out;
  bool verify = true;
};

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::vector<std::string> DatePaths(const std::string& dir, int dates) {
  std::vector<std::string> p;
  for (int d = 1; d <= dates; ++d) p.push_back((std::filesystem::path(dir) / absl::StrCat("date_", d, ".tif")).string());
  return p;
}

// Keeps the intermediates of the keep_all strategy and counts them.
class KeepAll {
 public:
  explicit KeepAll(Context* ctx) : ctx_(ctx) {}
  // ReadAll(image) whole, kept, and given back as an in-memory image.
  absl::StatusOr<Image> Stage(const Image& image) {
    absl::StatusOr<Array> a = ctx_->ReadAll(image);
    if (!a.ok()) return a.status();
    held_ += static_cast<int64_t>(a->bytes());
    peak_ = std::max(peak_, held_ + ctx_->last_run_stats().peak_live_bytes);
    return ctx_->FromArray(*std::move(a));
  }
  void AfterRun() { peak_ = std::max(peak_, held_ + ctx_->last_run_stats().peak_live_bytes); }
  int64_t peak() const { return peak_; }

 private:
  Context* ctx_;
  int64_t held_ = 0;
  int64_t peak_ = 0;
};

absl::StatusOr<std::vector<Image>> MapOne(Context& c, std::vector<Image> in, MapFilter f) {
  return c.Map(in, std::move(f));
}

ReduceFilter<int64_t> CountOnes() {
  ReduceFilter<int64_t> count;
  count.name = "count water";
  count.map = [](const ReduceTile& t) -> absl::StatusOr<int64_t> {
    const auto m = t.inputs[0].As<uint8_t>();
    int64_t n = 0;
    for (int y = 0; y < m.rows(); ++y) {
      const uint8_t* r = m.Row(0, y);
      for (int x = 0; x < m.cols(); ++x) n += r[x];
    }
    return n;
  };
  count.combine = [](int64_t a, int64_t b) { return a + b; };
  return count;
}

absl::Status KeepAllWaterMask(const ChildArgs& a, ChildReport* r) {
  ContextOptions o;
  o.workers = a.workers;
  o.tiling.tile_size = a.tile;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  if (!ctx.ok()) return ctx.status();
  Context& c = **ctx;
  KeepAll keep(&c);
  std::vector<Image> masks;
  for (const std::string& path : DatePaths(a.data, a.dates)) {
    absl::StatusOr<Image> date = c.Open(path, {2, 4});
    if (!date.ok()) return date.status();
    absl::StatusOr<Image> d = keep.Stage(*date);
    if (!d.ok()) return d.status();
    absl::StatusOr<std::vector<Image>> ndwi = MapOne(c, {*d}, filters::NormalizedDifference(1, 2, 0.001f));
    if (!ndwi.ok()) return ndwi.status();
    absl::StatusOr<Image> n = keep.Stage((*ndwi)[0]);
    if (!n.ok()) return n.status();
    absl::StatusOr<std::vector<Image>> mask = MapOne(c, {*n}, filters::Threshold(0.0));
    if (!mask.ok()) return mask.status();
    absl::StatusOr<Image> m = keep.Stage((*mask)[0]);
    if (!m.ok()) return m.status();
    masks.push_back(*m);
  }
  absl::StatusOr<std::vector<Image>> water = MapOne(c, masks, filters::LogicalAnd());
  if (!water.ok()) return water.status();
  absl::StatusOr<Image> w = keep.Stage((*water)[0]);
  if (!w.ok()) return w.status();
  absl::StatusOr<Reduction<int64_t>> count = c.Reduce<int64_t>({*w}, CountOnes());
  if (!count.ok()) return count.status();
  if (absl::Status s = c.Write(*w, a.out); !s.ok()) return s;
  if (absl::Status s = c.Run(); !s.ok()) return s;
  keep.AfterRun();
  absl::StatusOr<int64_t> n = count->Get();
  if (!n.ok()) return n.status();
  r->check[0] = static_cast<double>(*n);
  r->pixels = static_cast<int64_t>(a.size) * a.size;
  r->peak_live_bytes = keep.peak();
  return absl::OkStatus();
}

// examples::RunPipeline's graph with EOScale's memory strategy: every stage
// read whole into memory and kept until the end (no Release), then the
// three writes and the min/max.
absl::Status KeepAllPipeline(const ChildArgs& a, ChildReport* r) {
  ContextOptions o;
  o.workers = a.workers;
  o.tiling.tile_size = a.tile;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  if (!ctx.ok()) return ctx.status();
  Context& c = **ctx;
  KeepAll keep(&c);
  auto stage = [&](absl::StatusOr<std::vector<Image>> v) -> absl::StatusOr<Image> {
    if (!v.ok()) return v.status();
    return keep.Stage((*v)[0]);
  };
  absl::StatusOr<Image> opened = c.Open(a.data);
  if (!opened.ok()) return opened.status();
  absl::StatusOr<Image> dsm = keep.Stage(*opened);
  if (!dsm.ok()) return dsm.status();
  absl::StatusOr<Image> mask = stage(c.Map({*dsm}, filters::NodataMask()));
  if (!mask.ok()) return mask.status();
  filters::FillNodataOptions fill;
  fill.max_search_distance = 100.0;
  absl::StatusOr<Image> filled = stage(c.Map({*dsm, *mask}, filters::FillNodata(fill)));
  if (!filled.ok()) return filled.status();
  absl::StatusOr<Image> smooth = stage(c.Map({*filled}, filters::Uniform(3)));
  if (!smooth.ok()) return smooth.status();
  absl::StatusOr<Reduction<filters::MinMaxResult>> mm = c.Reduce<filters::MinMaxResult>({*smooth}, filters::MinMax());
  if (!mm.ok()) return mm.status();
  const std::filesystem::path out(a.out);
  if (absl::Status s = c.Write(*mask, (out / "nodata_mask.tif").string()); !s.ok()) return s;
  if (absl::Status s = c.Write(*filled, (out / "filled_dsm.tif").string()); !s.ok()) return s;
  if (absl::Status s = c.Write(*smooth, (out / "smooth_dsm.tif").string()); !s.ok()) return s;
  if (absl::Status s = c.Run(); !s.ok()) return s;
  keep.AfterRun();
  absl::StatusOr<filters::MinMaxResult> v = mm->Get();
  if (!v.ok()) return v.status();
  r->check[0] = v->min;
  r->check[1] = v->max;
  r->pixels = static_cast<int64_t>(a.size) * a.size;
  r->peak_live_bytes = keep.peak();
  return absl::OkStatus();
}

std::vector<std::string> PipelineOutputs(const std::string& dir) {
  std::vector<std::string> p;
  for (const char* n : {"nodata_mask.tif", "filled_dsm.tif", "smooth_dsm.tif"}) {
    p.push_back((std::filesystem::path(dir) / n).string());
  }
  return p;
}

// Runs one child job and sends its report. Returns the exit code.
int ChildMain(const ChildArgs& a) {
  ChildReport r;
  absl::Status st;
  const auto start = std::chrono::steady_clock::now();
  if (a.workload == "gen_s2") {
    absl::StatusOr<std::vector<std::string>> p = examples::MakeS2Like(a.data, a.size, a.dates, kSeed);
    st = p.status();
  } else if (a.workload == "gen_dsm") {
    // The file appears under its name only when complete (the engine writes
    // to a temporary name and renames): an existing file is reused.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(a.data, ec)) {
      std::filesystem::create_directories(std::filesystem::path(a.data).parent_path(), ec);
      st = examples::MakeSyntheticDsm(a.data, a.size, a.size);
    }
  } else if (a.workload == "water_mask" && a.variant == "engine") {
    examples::WaterMaskOptions o;
    o.workers = a.workers;
    o.tiling.tile_size = a.tile;
    absl::StatusOr<examples::WaterMaskResult> res = examples::RunWaterMask(DatePaths(a.data, a.dates), a.out, o);
    st = res.status();
    if (res.ok()) {
      r.check[0] = static_cast<double>(res->water_pixels);
      r.pixels = res->pixels;
      r.peak_live_bytes = res->stats.peak_live_bytes;
    }
  } else if (a.workload == "water_mask" && a.variant == "plain") {
    absl::StatusOr<PlainResult> res = RunPlainWaterMask(DatePaths(a.data, a.dates), a.out, a.workers);
    st = res.status();
    if (res.ok()) {
      r.check[0] = static_cast<double>(res->water_pixels);
      r.pixels = res->pixels;
      // The loop's buffers, by construction (plain_water_mask.cc): per worker
      // one row band of G and NIR (2 x 256 rows x int16) and its mask blocks.
      const int64_t w = a.size, blocks_x = (w + 255) / 256;
      r.peak_live_bytes = a.workers * (2 * 256 * w * 2 + blocks_x * 256 * 256);
    }
  } else if (a.workload == "water_mask" && a.variant == "keep_all") {
    st = KeepAllWaterMask(a, &r);
  } else if (a.workload == "pipeline" && a.variant == "engine") {
    examples::PipelineOptions o;
    o.workers = a.workers;
    o.tiling.tile_size = a.tile;
    absl::StatusOr<examples::PipelineResult> res = examples::RunPipeline(a.data, a.out, o);
    st = res.status();
    if (res.ok()) {
      r.check[0] = res->min;
      r.check[1] = res->max;
      r.pixels = static_cast<int64_t>(a.size) * a.size;
      r.peak_live_bytes = res->stats.peak_live_bytes;
    }
  } else if (a.workload == "pipeline" && a.variant == "plain") {
    absl::StatusOr<PlainPipelineResult> res = RunPlainPipeline(a.data, a.out, a.workers);
    st = res.status();
    if (res.ok()) {
      r.check[0] = res->min;
      r.check[1] = res->max;
      r.pixels = res->pixels;
      r.peak_live_bytes = res->buffer_bytes;
    }
  } else if (a.workload == "pipeline" && a.variant == "keep_all") {
    st = KeepAllPipeline(a, &r);
  } else {
    st = absl::InvalidArgumentError(absl::StrCat("unknown child job ", a.workload, "/", a.variant));
  }
  r.wall_seconds = Since(start);
  r.work_peak_rss_bytes = PeakRss();  // before the hash below reads the outputs back
  if (st.ok() && a.verify && !a.out.empty()) {
    absl::StatusOr<uint64_t> h =
        OutputHash(a.workload == "pipeline" ? PipelineOutputs(a.out) : std::vector<std::string>{a.out});
    st = h.status();
    if (h.ok()) r.output_hash = *h;
  }
  if (st.ok()) {
    r.ok = 1;
  } else {
    SetError(&r, st);
  }
  return SendReport(r) ? 0 : 3;
}

absl::StatusOr<ChildArgs> ParseChildArgs(int argc, char** argv) {
  ChildArgs a;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    bool ok = true;
    if (name == "--workload") a.workload = value;
    else if (name == "--variant") a.variant = value;
    else if (name == "--size") ok = absl::SimpleAtoi(value, &a.size);
    else if (name == "--dates") ok = absl::SimpleAtoi(value, &a.dates);
    else if (name == "--workers") ok = absl::SimpleAtoi(value, &a.workers);
    else if (name == "--tile") ok = absl::SimpleAtoi(value, &a.tile);
    else if (name == "--data") a.data = value;
    else if (name == "--out") a.out = value;
    else if (name == "--no_verify") a.verify = false;
    else ok = false;
    if (!ok) return absl::InvalidArgumentError(absl::StrCat("bad child argument '", arg, "'"));
  }
  return a;
}

// ---------------------------------------------------------------------------
// Parent side.

Flags g_flags;
std::filesystem::path g_data_root;
std::unique_ptr<TempDir> g_work;  // outputs (and data with --smoke)

struct Dataset {
  std::string data;  // what the child's --data gets
  std::string error;
};

// Inputs of (workload, size): generated in a child on first use, read once.
const Dataset& DatasetFor(Workload w, int size) {
  static std::map<std::pair<Workload, int>, Dataset> cache;
  auto [it, inserted] = cache.try_emplace({w, size});
  Dataset& d = it->second;
  if (!inserted) return d;
  std::vector<std::string> paths;
  ChildArgs gen;
  gen.size = size;
  gen.dates = g_flags.dates;
  if (w == Workload::kWaterMask) {
    d.data = (g_data_root / absl::StrFormat("s2_like_%dpx_%ddates", size, g_flags.dates)).string();
    gen.workload = "gen_s2";
    paths = DatePaths(d.data, g_flags.dates);
  } else {
    d.data = (g_data_root / absl::StrFormat("synthetic_dsm_%dpx", size) / "dsm.tif").string();
    gen.workload = "gen_dsm";
    paths = {d.data};
  }
  gen.data = d.data;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ChildOutcome> o = RunSelf({"--child", absl::StrCat("--workload=", gen.workload),
                                            absl::StrCat("--size=", size), absl::StrCat("--dates=", gen.dates),
                                            absl::StrCat("--data=", gen.data)});
  if (!o.ok() || !o->report.ok) {
    d.error = absl::StrCat("generating ", gen.data, ": ", o.ok() ? o->report.error : o.status().ToString());
    return d;
  }
  absl::StatusOr<int64_t> warm = WarmUp(paths);
  if (!warm.ok()) {
    d.error = warm.status().ToString();
    return d;
  }
  std::fprintf(stderr, "data: %s ready in %.1f s (%.0f MiB read once)\n", d.data.c_str(), Since(start),
               static_cast<double>(*warm) / kMiB);
  return d;
}

// What every run of a (workload, size) must agree on.
struct Expected {
  double check[2];
  uint64_t hash;
  std::string who;
};

struct RunSpec {
  Workload workload;
  std::string variant;  // engine, plain, keep_all
  int size;
  int workers;
  int tile;  // 0 = the engine's default
};

void RunMacro(benchmark::State& state, RunSpec spec) {
  static std::map<std::pair<Workload, int>, Expected> expected;
  const Dataset& data = DatasetFor(spec.workload, spec.size);
  if (!data.error.empty()) {
    state.SkipWithError(data.error.c_str());
    for (auto _ : state) {
    }
    return;
  }
  // The water mask writes one file; the pipeline a folder of three.
  const bool folder = spec.workload == Workload::kPipeline;
  const std::string out = (g_work->path() / absl::StrCat(WorkloadName(spec.workload), "_", spec.variant, "_",
                                                        spec.size, folder ? "" : ".tif"))
                              .string();
  std::vector<std::string> args = {"--child",
                                   absl::StrCat("--workload=", WorkloadName(spec.workload)),
                                   absl::StrCat("--variant=", spec.variant),
                                   absl::StrCat("--size=", spec.size),
                                   absl::StrCat("--dates=", g_flags.dates),
                                   absl::StrCat("--workers=", spec.workers),
                                   absl::StrCat("--tile=", spec.tile),
                                   absl::StrCat("--data=", data.data),
                                   absl::StrCat("--out=", out)};
  if (!g_flags.verify) args.push_back("--no_verify");
  ChildOutcome last;
  for (auto _ : state) {
    std::error_code ec;
    if (folder) std::filesystem::create_directories(out, ec);
    absl::StatusOr<ChildOutcome> o = RunSelf(args);
    std::filesystem::remove_all(out, ec);
    if (!o.ok() || !o->report.ok) {
      const std::string msg = o.ok() ? std::string(o->report.error) : o.status().ToString();
      state.SkipWithError(msg.c_str());
      break;
    }
    state.SetIterationTime(o->report.wall_seconds);
    last = *o;
  }
  if (state.error_occurred()) return;
  const ChildReport& r = last.report;
  const std::string who = absl::StrCat(spec.variant, " (workers ", spec.workers, ", tile ", spec.tile, ")");
  auto [it, first] = expected.try_emplace({spec.workload, spec.size},
                                          Expected{{r.check[0], r.check[1]}, r.output_hash, who});
  if (!first && (it->second.check[0] != r.check[0] || it->second.check[1] != r.check[1] ||
                 (g_flags.verify && it->second.hash != r.output_hash))) {
    const std::string msg = absl::StrFormat(
        "result differs: %s gives (%.17g, %.17g, hash %016x), %s gave (%.17g, %.17g, hash %016x)", who, r.check[0],
        r.check[1], r.output_hash, it->second.who, it->second.check[0], it->second.check[1], it->second.hash);
    state.SkipWithError(msg.c_str());
    return;
  }
  state.counters["wall_s"] = r.wall_seconds;
  state.counters["Mpx/s"] = static_cast<double>(r.pixels) / r.wall_seconds / 1e6;
  state.counters["peak_live_MiB"] = static_cast<double>(r.peak_live_bytes) / kMiB;
  state.counters["peak_RSS_MiB"] = static_cast<double>(r.work_peak_rss_bytes) / kMiB;
  state.counters["load"] = LoadAverage1();
  if (spec.workload == Workload::kWaterMask) {
    state.SetLabel(absl::StrCat("water px ", static_cast<int64_t>(r.check[0])));
  } else {
    state.SetLabel(absl::StrFormat("min %.4g max %.4g", r.check[0], r.check[1]));
  }
}

void Register(const RunSpec& spec, const std::string& name) {
  benchmark::RegisterBenchmark(name.c_str(), RunMacro, spec)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

void RegisterAll() {
  for (Workload w : g_flags.workloads) {
    for (int size : g_flags.sizes) {
      const std::string group = absl::StrCat(WorkloadName(w), "/", size, "px/workers:", g_flags.workers);
      for (const char* v : {"plain", "engine", "keep_all"}) {
        Register({w, v, size, g_flags.workers, 0}, absl::StrCat(group, "/", v));
      }
    }
  }
  for (Workload w : g_flags.workloads) {
    for (int workers : g_flags.scaling_workers) {
      const std::string group =
          absl::StrCat("scaling/", WorkloadName(w), "/", g_flags.scaling_size, "px/workers:", workers);
      Register({w, "plain", g_flags.scaling_size, workers, 0}, absl::StrCat(group, "/plain"));
      for (int tile : g_flags.scaling_tiles) {
        Register({w, "engine", g_flags.scaling_size, workers, tile}, absl::StrCat(group, "/engine@", tile));
      }
    }
  }
}

absl::Status ParseFlags(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--smoke") {
      g_flags.smoke = true;
      g_flags.sizes = {300};
      g_flags.dates = 2;
      g_flags.scaling_size = 300;
      g_flags.scaling_tiles = {128, 256};
    }
  }
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    absl::Status st;
    auto list = [&](std::vector<int>* out) {
      absl::StatusOr<std::vector<int>> v = ParseIntList(value);
      if (v.ok()) {
        *out = *v;
      } else {
        st = v.status();
      }
    };
    auto one = [&](int* out) {
      if (!absl::SimpleAtoi(value, out) || *out <= 0) st = absl::InvalidArgumentError(absl::StrCat("bad ", arg));
    };
    if (name == "--smoke") {
    } else if (name == "--sizes") {
      list(&g_flags.sizes);
    } else if (name == "--workers") {
      one(&g_flags.workers);
    } else if (name == "--dates") {
      one(&g_flags.dates);
    } else if (name == "--data_dir") {
      g_flags.data_dir = value;
    } else if (name == "--scaling_size") {
      one(&g_flags.scaling_size);
    } else if (name == "--scaling_workers") {
      list(&g_flags.scaling_workers);
    } else if (name == "--scaling_tiles") {
      list(&g_flags.scaling_tiles);
    } else if (name == "--workloads") {
      g_flags.workloads.clear();
      for (absl::string_view w : absl::StrSplit(value, ',')) {
        if (w == "water_mask") {
          g_flags.workloads.push_back(Workload::kWaterMask);
        } else if (w == "pipeline") {
          g_flags.workloads.push_back(Workload::kPipeline);
        } else {
          st = absl::InvalidArgumentError(absl::StrCat("unknown workload '", w, "'"));
        }
      }
    } else if (name == "--no_verify") {
      g_flags.verify = false;
    } else {
      st = absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "'"));
    }
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--child") == 0) {
    absl::StatusOr<ChildArgs> a = ParseChildArgs(argc, argv);
    if (!a.ok()) {
      std::fprintf(stderr, "macro_benchmark: %s\n", a.status().ToString().c_str());
      return 2;
    }
    return ChildMain(*a);
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (absl::Status s = ParseFlags(argc, argv); !s.ok()) {
    std::fprintf(stderr, "macro_benchmark: %s\n\n%s", std::string(s.message()).c_str(), kUsage);
    return 2;
  }
  absl::StatusOr<std::unique_ptr<TempDir>> work = TempDir::Create("macro_benchmark");
  if (!work.ok()) {
    std::fprintf(stderr, "macro_benchmark: %s\n", work.status().ToString().c_str());
    return 1;
  }
  g_work = *std::move(work);
  if (!g_flags.data_dir.empty()) {
    g_data_root = g_flags.data_dir;
  } else if (g_flags.smoke) {
    g_data_root = g_work->path();
  } else {
    absl::StatusOr<std::filesystem::path> root = CacheRoot();
    if (!root.ok()) {
      std::fprintf(stderr, "macro_benchmark: %s\n", root.status().ToString().c_str());
      return 1;
    }
    g_data_root = *root;
  }
  RegisterAll();
  SummaryReporter reporter("plain", {"Mpx/s", "peak_live_MiB", "peak_RSS_MiB", "load"});
  const int rc = RunBenchmarks(&reporter);
  g_work.reset();
  return rc;
}

}  // namespace
}  // namespace eoscale::bench

int main(int argc, char** argv) { return eoscale::bench::Main(argc, argv); }
