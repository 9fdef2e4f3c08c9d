// min_budget: the smallest memory budget that completes against the minimum
// the engine states (RunStats::min_budget_bytes; the "raise the budget to at
// least ..." of the error when a budget is too small), for chains of Map
// filters of margin 1 over a 1024 x 1024 float32 constant image (4 MiB),
// ending in a Reduce (issue 12, item 3). For each chain length it asks the
// engine's stated minimum (a run with a 1 MiB budget), then bisects the total
// budget between a refused one and a completing one to 1 %, and prints the
// peak live tile bytes of the run at the smallest completing budget (the
// working set actually used) and the ratios.
//
//   min_budget [--chains 1,20,2000] [--workers 2] [--side 1024]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "eoscale/graph/context.h"

namespace {

double MiB(int64_t b) { return static_cast<double>(b) / (1 << 20); }

eoscale::MapFilter Shift(int i) {
  eoscale::MapFilter f;
  f.name = absl::StrCat("f", i);
  f.margin = 1;
  f.fn = [](const eoscale::MapTile& t) {
    auto in = t.inputs[0].As<float>();
    auto out = t.outputs[0].As<float>();
    const int sy = t.StableY(), sx = t.StableX();
    for (int y = 0; y < out.rows(); ++y) {
      for (int x = 0; x < out.cols(); ++x) out(0, y, x) = in(0, y + sy, x + sx) + 1.0f;
    }
    return absl::OkStatus();
  };
  return f;
}

struct Result {
  bool ok = false;
  std::string error;
  int64_t peak_live = 0;
  int64_t min_budget = 0;  // RunStats::min_budget_bytes (tile bytes)
  int64_t budget_used = 0;
};

Result RunChain(int n, int side, int workers, int64_t budget) {
  Result r;
  eoscale::ContextOptions opts;
  opts.workers = workers;
  opts.memory_budget_bytes = budget;
  auto ctx = eoscale::Context::Create(opts);
  if (!ctx.ok()) {
    r.error = std::string(ctx.status().message());
    return r;
  }
  eoscale::Profile p;
  p.width = p.height = side;
  p.type = eoscale::PixelType::kF32;
  auto img = (*ctx)->CreateConstant(p, 1);
  eoscale::Image cur = *img;
  for (int i = 0; i < n; ++i) cur = (*(*ctx)->Map({cur}, Shift(i)))[0];
  auto sum = (*ctx)->Reduce<double>({cur}, eoscale::ReduceFilter<double>{
      "sum",
      [](const eoscale::ReduceTile& t) -> absl::StatusOr<double> {
        return t.inputs[0].As<float>()(0, 0, 0) * static_cast<double>(t.tile.window.Pixels());
      },
      [](double a, double b) { return a + b; }});
  absl::StatusOr<double> v = sum->Get();
  const eoscale::RunStats& st = (*ctx)->last_run_stats();
  r.ok = v.ok();
  if (!v.ok()) r.error = std::string(v.status().message());
  r.peak_live = st.peak_live_bytes;
  r.min_budget = st.min_budget_bytes;
  r.budget_used = st.budget_bytes;
  if (r.ok && *v != static_cast<double>(side) * side * (1 + n)) {
    r.ok = false;
    r.error = "wrong sum";
  }
  return r;
}

// The "(N bytes)" of the too-small-budget error: the stated minimum total budget.
int64_t StatedMinimum(const std::string& error) {
  const size_t close = error.find(" bytes)");
  if (close == std::string::npos) return -1;
  size_t open = error.rfind('(', close);
  int64_t v = -1;
  if (open == std::string::npos || !absl::SimpleAtoi(error.substr(open + 1, close - open - 1), &v)) return -1;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> chains = {1, 20, 2000};
  int workers = 2, side = 1024;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--chains") == 0) {
      chains.clear();
      for (absl::string_view s : absl::StrSplit(argv[i + 1], ',')) {
        int c = 0;
        if (absl::SimpleAtoi(s, &c)) chains.push_back(c);
      }
    } else if (std::strcmp(argv[i], "--workers") == 0) {
      workers = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--side") == 0) {
      side = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: min_budget [--chains 1,20,2000] [--workers W] [--side N]\n");
      return 2;
    }
  }
  std::printf("| chain | stated minimum (total budget) | min_budget_bytes (tiles) | smallest completing | "
              "peak live there | peak live, default budget | stated / peak live | tiles: min_budget_bytes / peak live |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int n : chains) {
    const Result refused = RunChain(n, side, workers, int64_t{1} << 20);
    int64_t stated = refused.ok ? (int64_t{1} << 20) : StatedMinimum(refused.error);
    if (stated < 0) {
      std::fprintf(stderr, "chain %d: unexpected error: %s\n", n, refused.error.c_str());
      return 1;
    }
    const Result deflt = RunChain(n, side, workers, 0);
    // Bisect: lo refused, hi completes.
    int64_t lo = int64_t{1} << 20, hi = stated;
    Result at_hi = RunChain(n, side, workers, hi);
    while (!at_hi.ok) {
      lo = hi;
      hi *= 2;
      at_hi = RunChain(n, side, workers, hi);
    }
    if (refused.ok) lo = 0;
    while (hi - lo > hi / 100) {
      const int64_t mid = lo + (hi - lo) / 2;
      Result r = RunChain(n, side, workers, mid);
      if (r.ok) {
        hi = mid;
        at_hi = r;
      } else {
        lo = mid;
      }
    }
    std::printf("| %d | %.2f MiB | %.2f MiB | %.2f MiB | %.2f MiB | %.2f MiB | %.1f | %.1f |\n", n, MiB(stated),
                MiB(at_hi.min_budget), MiB(hi), MiB(at_hi.peak_live), MiB(deflt.peak_live),
                static_cast<double>(stated) / static_cast<double>(at_hi.peak_live),
                static_cast<double>(at_hi.min_budget) / static_cast<double>(at_hi.peak_live));
    std::fflush(stdout);
  }
  return 0;
}
