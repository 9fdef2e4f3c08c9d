// macro_benchmark: whole workloads, three ways, in one process run.
//
//   workload      water_mask: 4 dates of S2-like data (NDWI > 0 on every date)
//                 pipeline:   EOScale's pipeline.py (examples/pipeline): nodata
//                             mask -> fill nodata (search distance 100) ->
//                             uniform 3 -> min/max, writing the mask, the
//                             filled and the smoothed DSM, on the example's
//                             synthetic DSM with holes (MakeSyntheticDsm)
//   variant       engine:   this engine, streaming tiles: the examples' own
//                           functions (RunWaterMask, RunPipeline); its outputs
//                           are fsync'ed before the run ends (durable)
//                 engine_nosync: the same, outputs left to the page cache
//                           (WriteOptions::durable = false), as the plain
//                           loop and keep_all leave theirs
//                 plain:    a hand-written multi-threaded GDAL loop, no framework
//                           (plain_water_mask.h, plain_pipeline.h)
//                 keep_all: EOScale's strategy with the same filters: every
//                           stage ReadAll()s its output whole into an Array and
//                           the next stage reads it back with FromArray(); every
//                           intermediate stays in memory until the end
//                           (macro_keep_all.h)
//
// Each run is a fresh process (this binary re-executed with --child, see
// bench_util.h): its peak RSS is that of a fresh process, read by the child
// (getrusage) as soon as the work ends. The child times the work itself
// (from the Context's creation or the plain loop's call to the closed
// output file) and reports it; that time is the benchmark's manual time. Every variant writes its output; the child then hashes the
// output's pixels (outside the timing) and the parent checks that every
// variant, configuration and input layout of a workload and size gives the
// same pixels and the same result (water pixels; min/max).
//
// Benchmarks are named <group>/<variant>; run with
// --benchmark_repetitions=N --benchmark_enable_random_interleaving=true so
// that the variants alternate, and read the summary table at the end
// (medians, and wall time as a ratio to the plain loop of the same group).
//
// The groups: <workload>/<size>px/workers:<W> (the three variants; the
// size sweep is this group at several sizes), scaling/... (workers x tile
// sizes) and inputs/water_mask/<layout>/..., which reads the water mask's
// inputs in other layouts (pixel-interleaved, DEFLATE-compressed, per-band
// lossless JPEG 2000 stacked by a VRT; see input_layouts.h) at 1 and 2
// workers: the speed-up from 1 to 2 workers and engine/plain per layout
// (--gdal_num_threads=1 keeps GDAL's JPEG 2000 decoder on the worker's
// thread). Sizes above --mosaic_above are 2 x 2 VRT mosaics of the
// half-size data (Sentinel-2 tiles are 10980 px: 21960 is four of them).
//
// Data comes from the examples' synthetic generators (MakeS2Like,
// MakeSyntheticDsm) and is derived from them (macro_data.h), created on
// first use under the cache root (bench_util.h: CacheRoot) and read once
// before the first timed run so that no run pays for the disk. The parent
// never starts oneTBB: generation runs in a child too.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
#include "macro_data.h"
#include "macro_keep_all.h"
#include "plain_pipeline.h"
#include "pipeline.h"
#include "plain_water_mask.h"
#include "water_mask.h"

namespace eoscale::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

constexpr char kUsage[] =
    "usage: macro_benchmark [benchmark flags] [--sizes=1024,3500,10980] [--workers=2]\n"
    "                       [--dates=4] [--data_dir=DIR] [--scaling_size=3500]\n"
    "                       [--scaling_workers=1,2] [--scaling_tiles=128,256,512,1024,2048]\n"
    "                       [--workloads=water_mask,pipeline] [--layouts=pixel,deflate,jp2]\n"
    "                       [--inputs_size=3500] [--jp2_size=N] [--inputs_workers=1,2]\n"
    "                       [--mosaic_above=16384] [--gdal_num_threads=N] [--no_verify] [--smoke]\n"
    "\n"
    "Benchmarks (filter with --benchmark_filter):\n"
    "  <workload>/<size>px/workers:<W>/{plain,engine,engine_nosync,keep_all}  sizes --sizes, W --workers\n"
    "  scaling/<workload>/<size>px/workers:<W>/{plain,engine@<tile>}\n"
    "  inputs/water_mask/<layout>/<size>px/workers:<W>/{plain,engine,engine_nosync}\n"
    "      layout in --layouts (band: the generated GeoTIFF; pixel: pixel-interleaved;\n"
    "      deflate: DEFLATE + PREDICTOR=2, band-interleaved; jp2: one lossless JPEG 2000\n"
    "      file per band stacked by a VRT), size --inputs_size (--jp2_size for jp2:\n"
    "      JPEG 2000 decodes at a few Mpx/s per thread), W in --inputs_workers\n"
    "Mosaics: a size above --mosaic_above (default 16384, e.g. 21960) is a VRT 2 x 2\n"
    "  mosaic of the data at size / 2 (generated first as usual; the size must be even):\n"
    "  the water mask's date_k.vrt, the pipeline's dsm.vrt.\n"
    "--gdal_num_threads=N: GDAL_NUM_THREADS for every run (default: GDAL's; its JPEG 2000\n"
    "  driver then decodes on every core, whatever the workers: pass 1 to measure workers)\n"
    "Each run is a fresh child process (peak RSS per run); all runs of a workload at a\n"
    "size, whatever the variant, workers or layout, must give identical output pixels.\n"
    "Suggested: --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true\n"
    "--smoke: tiny sizes (300, and 600 as a mosaic of 300), 2 dates, every layout at 300,\n"
    "  data in a temporary folder (for CI).\n";

struct Flags {
  std::vector<int> sizes = {1024, 3500, 10980};
  int workers = 2;
  int dates = 4;
  std::string data_dir;
  int scaling_size = 3500;
  std::vector<int> scaling_workers = {1, 2};
  std::vector<int> scaling_tiles = {128, 256, 512, 1024, 2048};
  std::vector<Workload> workloads = {Workload::kWaterMask, Workload::kPipeline};
  std::vector<Layout> layouts = {Layout::kPixel, Layout::kDeflate, Layout::kJp2};
  std::vector<int> inputs_workers = {1, 2};
  int inputs_size = 3500;
  int jp2_size = 0;  // 0: inputs_size
  int mosaic_above = 16384;
  bool verify = true;
  bool smoke = false;
};

// ---------------------------------------------------------------------------
// Child side: one run of one variant.

struct ChildArgs {
  std::string workload;  // water_mask, pipeline, gen_s2, gen_dsm
  std::string variant;   // engine, engine_nosync, plain, keep_all
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
  if (absl::StartsWith(a.workload, "gen_")) {
    st = RunGenJob({a.workload, a.variant, a.size, a.dates, a.data, a.out});
    r.wall_seconds = Since(start);
    if (st.ok()) {
      r.ok = 1;
    } else {
      SetError(&r, st);
    }
    return SendReport(r) ? 0 : 3;
  }
  // engine_nosync: the same, its outputs left to the page cache as the
  // plain loop leaves its own (WriteOptions::durable = false).
  const bool engine = a.variant == "engine" || a.variant == "engine_nosync";
  if (a.workload == "water_mask" && engine) {
    examples::WaterMaskOptions o;
    o.workers = a.workers;
    o.durable = a.variant == "engine";
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
    st = KeepAllWaterMask({a.data, a.out, a.size, a.dates, a.workers, a.tile}, &r);
  } else if (a.workload == "pipeline" && engine) {
    examples::PipelineOptions o;
    o.workers = a.workers;
    o.durable = a.variant == "engine";
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
    st = KeepAllPipeline({a.data, a.out, a.size, a.dates, a.workers, a.tile}, &r);
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

DataOptions DataOpts() { return {g_data_root, g_flags.dates, g_flags.mosaic_above}; }

// What every run of a (workload, size) must agree on, whatever the layout
// of its inputs (every layout is lossless).
struct Expected {
  double check[2];
  uint64_t hash;
  std::string who;
};

struct RunSpec {
  Workload workload;
  std::string variant;  // engine, engine_nosync, plain, keep_all
  int size;
  int workers;
  int tile;  // 0 = the engine's default
  Layout layout = Layout::kBand;
};

void RunMacro(benchmark::State& state, RunSpec spec) {
  static std::map<std::pair<Workload, int>, Expected> expected;
  const Dataset& data = DatasetFor(DataOpts(), spec.workload, spec.layout, spec.size);
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
  const std::string who = absl::StrCat(spec.variant, " (", LayoutName(spec.layout), " inputs, workers ", spec.workers,
                                       ", tile ", spec.tile, ")");
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
      for (const char* v : {"plain", "engine", "engine_nosync", "keep_all"}) {
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
  for (Layout layout : g_flags.layouts) {
    const int size = layout == Layout::kJp2 && g_flags.jp2_size > 0 ? g_flags.jp2_size : g_flags.inputs_size;
    for (int workers : g_flags.inputs_workers) {
      const std::string group =
          absl::StrCat("inputs/water_mask/", LayoutName(layout), "/", size, "px/workers:", workers);
      for (const char* v : {"plain", "engine", "engine_nosync"}) {
        Register({Workload::kWaterMask, v, size, workers, 0, layout}, absl::StrCat(group, "/", v));
      }
    }
  }
}

absl::Status ParseFlags(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--smoke") {
      g_flags.smoke = true;
      g_flags.sizes = {300, 600};
      g_flags.mosaic_above = 300;
      g_flags.inputs_size = 300;
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
    } else if (name == "--layouts") {
      g_flags.layouts.clear();
      for (absl::string_view l : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        absl::StatusOr<Layout> layout = ParseLayout(l);
        if (layout.ok()) {
          g_flags.layouts.push_back(*layout);
        } else {
          st = layout.status();
        }
      }
    } else if (name == "--inputs_workers") {
      list(&g_flags.inputs_workers);
    } else if (name == "--inputs_size") {
      one(&g_flags.inputs_size);
    } else if (name == "--jp2_size") {
      one(&g_flags.jp2_size);
    } else if (name == "--mosaic_above") {
      one(&g_flags.mosaic_above);
    } else if (name == "--gdal_num_threads") {
      int n = 0;
      one(&n);
      // The children inherit it: GDAL reads its configuration from the environment.
      if (st.ok()) setenv("GDAL_NUM_THREADS", value.c_str(), 1);
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
