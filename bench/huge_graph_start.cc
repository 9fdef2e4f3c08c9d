// huge_graph_start: planning memory and time before the first tile on a
// 10^6 x 10^6 graph (issue 12, item 2). Builds a constant u8 image of
// 10^6 x 10^6 pixels, three Maps of margin 0 that add one, and a Reduce that
// counts pixels, with ContextOptions{.workers = 2, .memory_budget_bytes =
// 64 MiB}. The progress callback records the time of the first finished tile
// task and cancels the run 3 s later. Prints the time to the first tile, the
// process's peak RSS before the run (getrusage, the process floor), when the
// first tile finished, and at the end.
//
//   huge_graph_start [--side N] [--stream-seconds S]
//
// Written against the API the engine has had since before v2 (raw input
// views, StableY/StableX), so that it builds against the old engine too.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "eoscale/graph/context.h"

namespace {

int64_t PeakRssBytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

double MiB(int64_t b) { return static_cast<double>(b) / (1 << 20); }

eoscale::MapFilter AddOne(const std::string& name) {
  eoscale::MapFilter f;
  f.name = name;
  f.margin = 0;
  f.fn = [](const eoscale::MapTile& t) {
    auto in = t.inputs[0].As<uint8_t>();
    auto out = t.outputs[0].As<uint8_t>();
    for (int y = 0; y < out.rows(); ++y) {
      for (int x = 0; x < out.cols(); ++x) {
        out(0, y, x) = static_cast<uint8_t>(in(0, y + t.StableY(), x + t.StableX()) + 1);
      }
    }
    return absl::OkStatus();
  };
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t side = 1000000;
  double stream_seconds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--side") == 0) side = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--stream-seconds") == 0) stream_seconds = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: huge_graph_start [--side N] [--stream-seconds S]\n");
      return 2;
    }
  }
  using Clock = std::chrono::steady_clock;
  const int64_t floor_rss = PeakRssBytes();
  const auto start = Clock::now();
  std::atomic<int64_t> first_ns{-1};
  std::atomic<int64_t> rss_at_first{0};
  std::atomic<int64_t> tasks{0};
  eoscale::ContextOptions opts;
  opts.workers = 2;
  opts.memory_budget_bytes = int64_t{64} << 20;
  opts.progress = [&](const eoscale::Progress& p) {
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    int64_t expected = -1;
    if (first_ns.compare_exchange_strong(expected, ns)) rss_at_first = PeakRssBytes();
    tasks = p.tiles_done;
    return ns - first_ns.load() < static_cast<int64_t>(stream_seconds * 1e9);
  };
  auto ctx = eoscale::Context::Create(opts);
  if (!ctx.ok()) {
    std::fprintf(stderr, "%s\n", std::string(ctx.status().message()).c_str());
    return 1;
  }
  eoscale::Profile prof;
  prof.width = prof.height = static_cast<int>(side);
  prof.type = eoscale::PixelType::kU8;
  auto src = (*ctx)->CreateConstant(prof, 7);
  auto a = (*ctx)->Map({*src}, AddOne("a"));
  auto b = (*ctx)->Map({(*a)[0]}, AddOne("b"));
  auto c = (*ctx)->Map({(*b)[0]}, AddOne("c"));
  auto sum = (*ctx)->Reduce<int64_t>({(*c)[0]}, eoscale::ReduceFilter<int64_t>{
      "count",
      [](const eoscale::ReduceTile& t) -> absl::StatusOr<int64_t> {
        return t.inputs[0].As<uint8_t>()(0, 0, 0) == 10 ? t.tile.window.Pixels() : -1;
      },
      [](int64_t x, int64_t y) { return x + y; }});
  if (!sum.ok()) {
    std::fprintf(stderr, "%s\n", std::string(sum.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<int64_t> v = sum->Get();
  const double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("side %lld, status: %s\n", static_cast<long long>(side),
              v.ok() ? "ok" : std::string(v.status().message()).substr(0, 80).c_str());
  std::printf("time_to_first_tile_s %.3f\n", first_ns.load() / 1e9);
  std::printf("peak_rss_floor_MiB %.1f\n", MiB(floor_rss));
  std::printf("peak_rss_at_first_tile_MiB %.1f\n", MiB(rss_at_first.load()));
  std::printf("peak_rss_end_MiB %.1f\n", MiB(PeakRssBytes()));
  std::printf("tasks_done %lld, total_s %.2f\n", static_cast<long long>(tasks.load()), total_s);
  // Completing (a small --side) or being cancelled by the callback is success.
  return v.ok() || v.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
}
