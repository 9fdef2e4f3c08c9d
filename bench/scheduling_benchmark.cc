// scheduling_benchmark: what the flow graph costs per tile task.
//
//   constant u8 image (4096 x 4096, tiles of 32 x 32: 16384 tiles)
//      -> k trivial Maps (each copies one pixel: no work)
//      -> a Reduce that reads one pixel per tile (nothing is written)
//
// Each iteration runs the chain of k Maps and the chain of 0 Maps (the
// baseline: source and reduce only) in the same process, alternating which
// goes first, each from a fresh Context to the reduction's value. The
// manual time is the k-chain's wall time. Counters:
//   us_per_tile_node      (wall(k) - wall(0)) / (tiles x k), in µs: the wall
//                         cost of one more node on one more tile
//   cpu_us_per_tile_node  the same with the process's CPU time (all threads)
//   baseline_us_per_tile  wall(0) / tiles: source + reduce per tile
// With 2 workers the wall figure is about half the CPU figure when the two
// workers run tasks in parallel without contention.
//
// --smoke: a 256 x 256 image (64 tiles), for CI.
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench_util.h"
#include "benchmark/benchmark.h"
#include "eoscale/graph/context.h"

namespace eoscale::bench {
namespace {

int g_size = 4096;
constexpr int kTile = 32;

MapFilter CopyOnePixel() {
  MapFilter f;
  f.name = "copy one pixel";
  f.fn = [](const MapTile& t) {
    const auto in = t.inputs[0].As<uint8_t>();
    t.outputs[0].As<uint8_t>()(0, 0, 0) = in(0, t.StableY(), t.StableX());
    return absl::OkStatus();
  };
  return f;
}

ReduceFilter<int64_t> SumFirstPixel() {
  ReduceFilter<int64_t> f;
  f.name = "sum first pixel";
  f.map = [](const ReduceTile& t) -> absl::StatusOr<int64_t> { return t.inputs[0].As<uint8_t>()(0, 0, 0); };
  f.combine = [](int64_t a, int64_t b) { return a + b; };
  return f;
}

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Timing {
  double wall = 0;
  double cpu = 0;
};

// Source -> `chain` Maps -> Reduce, from a fresh Context; times the run.
absl::StatusOr<Timing> RunChain(int chain, int workers) {
  ContextOptions o;
  o.workers = workers;
  o.tiling.tile_size = kTile;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  if (!ctx.ok()) return ctx.status();
  Profile p;
  p.width = p.height = g_size;
  p.type = PixelType::kU8;
  absl::StatusOr<Image> img = (*ctx)->CreateConstant(p, 1.0);
  if (!img.ok()) return img.status();
  for (int i = 0; i < chain; ++i) {
    absl::StatusOr<std::vector<Image>> next = (*ctx)->Map({*img}, CopyOnePixel());
    if (!next.ok()) return next.status();
    img = (*next)[0];
  }
  absl::StatusOr<Reduction<int64_t>> sum = (*ctx)->Reduce<int64_t>({*img}, SumFirstPixel());
  if (!sum.ok()) return sum.status();
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<int64_t> v = sum->Get();
  Timing t;
  t.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t.cpu = CpuSeconds() - cpu0;
  if (!v.ok()) return v.status();
  const int64_t tiles = static_cast<int64_t>(g_size / kTile) * (g_size / kTile);
  if (*v != tiles) return absl::InternalError(absl::StrCat("sum ", *v, ", expected ", tiles));
  return t;
}

void BM_Scheduling(benchmark::State& state) {
  const int chain = static_cast<int>(state.range(0));
  const int workers = static_cast<int>(state.range(1));
  Timing base, with_chain;
  int64_t n = 0;
  for (auto _ : state) {
    absl::StatusOr<Timing> b, c;
    if (n % 2 == 0) {
      b = RunChain(0, workers);
      c = RunChain(chain, workers);
    } else {
      c = RunChain(chain, workers);
      b = RunChain(0, workers);
    }
    if (!b.ok() || !c.ok()) {
      state.SkipWithError((b.ok() ? c.status() : b.status()).ToString().c_str());
      break;
    }
    state.SetIterationTime(c->wall);
    base.wall += b->wall;
    base.cpu += b->cpu;
    with_chain.wall += c->wall;
    with_chain.cpu += c->cpu;
    ++n;
  }
  if (n == 0) return;
  const double tiles = static_cast<double>(g_size / kTile) * (g_size / kTile);
  const double per = 1e6 / (static_cast<double>(n) * tiles * chain);
  state.counters["us_per_tile_node"] = (with_chain.wall - base.wall) * per;
  state.counters["cpu_us_per_tile_node"] = (with_chain.cpu - base.cpu) * per;
  state.counters["baseline_us_per_tile"] = base.wall * 1e6 / (static_cast<double>(n) * tiles);
  state.counters["tiles"] = tiles;
}
BENCHMARK(BM_Scheduling)
    ->ArgNames({"chain", "workers"})
    ->ArgsProduct({{1, 4, 16}, {1, 2}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace eoscale::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      eoscale::bench::g_size = 256;
    } else {
      std::fprintf(stderr, "scheduling_benchmark: unknown flag '%s' (only --smoke and --benchmark_*)\n", argv[i]);
      return 2;
    }
  }
  eoscale::bench::SummaryReporter reporter("", {});
  return eoscale::bench::RunBenchmarks(&reporter);
}
