// A child process for the fault-injection tests: copies a raster through the
// engine (open -> Map copy -> write) and reports what Run() returned.
//
//   eoscale_fault_child IN OUT [--tile N] [--workers N] [--sleep-us N] [--progress]
//
// Prints "progress DONE TOTAL" after each tile task when --progress is given,
// then "status CODE MESSAGE" (CODE: absl::StatusCode as an int) and exits 0
// when the run succeeded, 3 when it failed, 2 on bad arguments. The parent
// runs it under RLIMIT_FSIZE (disk full) or kills it with SIGKILL mid-run:
// what it must not get wrong happens in a process that cannot clean up.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "eoscale/graph/context.h"

namespace {

int Usage() {
  std::fprintf(stderr, "usage: eoscale_fault_child IN OUT [--tile N] [--workers N] [--sleep-us N] [--progress]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const std::string in = argv[1], out = argv[2];
  int tile = 64, workers = 2, sleep_us = 0;
  bool progress = false;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--progress") {
      progress = true;
    } else if (i + 1 < argc && (a == "--tile" || a == "--workers" || a == "--sleep-us")) {
      const int v = std::atoi(argv[++i]);
      (a == "--tile" ? tile : a == "--workers" ? workers : sleep_us) = v;
    } else {
      return Usage();
    }
  }
  eoscale::ContextOptions o;
  o.workers = workers;
  o.tiling.tile_size = tile;
  if (progress) {
    o.progress = [](const eoscale::Progress& p) {
      std::printf("progress %lld %lld\n", static_cast<long long>(p.tiles_done),
                  static_cast<long long>(p.tiles_total));
      std::fflush(stdout);
      return true;
    };
  }
  absl::Status st = [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<eoscale::Context>> ctx = eoscale::Context::Create(o);
    if (!ctx.ok()) return ctx.status();
    absl::StatusOr<eoscale::Image> src = (*ctx)->Open(in);
    if (!src.ok()) return src.status();
    eoscale::MapFilter copy;
    copy.name = "copy";
    copy.fn = [sleep_us](const eoscale::MapTile& t) -> absl::Status {
      if (sleep_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
      eoscale::CopyPixels(t.inputs[0].Sub(t.tile.window), t.outputs[0]);
      return absl::OkStatus();
    };
    absl::StatusOr<std::vector<eoscale::Image>> m = (*ctx)->Map({*src}, copy);
    if (!m.ok()) return m.status();
    if (absl::Status s = (*ctx)->Write((*m)[0], out); !s.ok()) return s;
    return (*ctx)->Run();
  }();
  std::printf("status %d %s\n", static_cast<int>(st.code()), std::string(st.message()).c_str());
  std::fflush(stdout);
  return st.ok() ? 0 : 3;
}
