// water_mask: the seed page's 4-date water mask, streamed by tiles.
//
//   date_k.tif (bands 2, 4) ── ndwi (f32) ── threshold > 0 (u8) ──┐
//   ...  one chain per date                                      ├── and ──┬── OUTPUT.tif
//                                                                 ┘         └── count water pixels
//
// Usage: water_mask [--workers N] [--tile-size PX] [--strips]
//                   [--memory-budget-mib N] [--dot FILE] [--trace FILE] [--report]
//                   [--co KEY=VALUE]... [--no-sync] OUTPUT.tif [INPUT.tif ...]
// Inputs have at least 4 bands (G = band 2, NIR = band 4) of any pixel type,
// read as float32. With no input, a deterministic synthetic dataset (4
// dates, 4 bands int16, 3500 x 3500) is generated first in a temporary
// folder under $TMPDIR (default /tmp), removed at the end.
//
// Built with EOSCALE_WITH_MPI and started by an MPI launcher (mpirun, srun),
// it runs across the job's ranks (docs/distributed.md): each rank computes
// its rows of the output, rank 0 prints the figures. OUTPUT.vrt is then
// written as one GeoTIFF per rank joined by the VRT. With no INPUT, each
// rank generates its own synthetic dates.
//
// Exit status: 0; 1 (error); 2 (usage); 128 + N after signal N (SIGINT,
// SIGTERM, SIGHUP): the run is cancelled, its temporary files removed, and
// previous files under the output name are left as they were.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <algorithm>

#include <optional>

#include "absl/strings/numbers.h"
#ifdef EOSCALE_WITH_MPI
#include "eoscale/mpi/session.h"
#endif
#include "eoscale/graph/report.h"
#include "s2_like.h"
#include "stop_signals.h"
#include "water_mask.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: water_mask [--workers N] [--tile-size PX] [--strips] [--memory-budget-mib N]\n"
               "                  [--dot FILE] [--trace FILE] [--report] [--co KEY=VALUE]...\n"
               "                  [--no-sync] OUTPUT.tif [INPUT.tif ...]\n"
               "  --co KEY=VALUE GeoTIFF creation option of the output (e.g. COMPRESS=DEFLATE)\n"
               "  --no-sync      leave the output in the page cache (no fsync; see WriteOptions::durable)\n"
               "  --dot FILE     write the graph, annotated with the run's figures (Graphviz DOT)\n"
               "  --trace FILE   write every tile task as Chrome trace-event JSON (Perfetto)\n"
               "  --report       print the memory report per node\n"
               "  --memory-budget-mib N  ceiling on live tile bytes plus GDAL's cache, N >= 1\n"
               "                 (omit it for the default: max(64 MiB, the graph's minimum))\n"
               "Inputs: at least 4 bands (G = band 2, NIR = band 4), any pixel type.\n"
               "With no INPUT, generates 4 synthetic dates of 3500x3500 first (in $TMPDIR).\n");
}

bool ParseInt(const char* s, int64_t* v) { return absl::SimpleAtoi(s, v); }

// 128 + N after stop signal N, with a message; 0 if none was received.
// `completed`: the run had committed its outputs when the signal came.
int StoppedExit(bool completed = false) {
  const int sig = eoscale::examples::StopSignal();
  if (sig == 0) return 0;
  std::fprintf(stderr, completed ? "water_mask: stopped by %s after the run completed: the output is complete\n"
                                 : "water_mask: stopped by %s: no output written, previous files kept\n",
               eoscale::examples::SignalName(sig).c_str());
  return eoscale::examples::ExitCodeForSignal(sig);
}

}  // namespace

int main(int argc, char** argv) {
  eoscale::examples::WaterMaskOptions options;
#ifdef EOSCALE_WITH_MPI
  std::optional<eoscale::mpi::Session> mpi;
  if (eoscale::mpi::LaunchedByMpi()) {
    mpi.emplace(&argc, &argv);
    options.distribution = mpi->world();
  }
#endif
  const bool first_rank = options.distribution == nullptr || options.distribution->rank() == 0;
  if (!eoscale::examples::InstallStopSignalHandlers()) {
    std::perror("water_mask: sigaction");
    return 1;
  }
  std::vector<std::string> positional;
  bool report = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    int64_t v = 0;
    auto next_int = [&](const char* what) {
      if (i + 1 >= argc || !ParseInt(argv[i + 1], &v) || v < 0) {
        std::fprintf(stderr, "water_mask: %s needs a non-negative integer\n", what);
        std::exit(2);
      }
      ++i;
      return v;
    };
    if (a == "--workers") {
      options.workers = static_cast<int>(next_int("--workers"));
    } else if (a == "--tile-size") {
      options.tiling.tile_size = static_cast<int>(next_int("--tile-size"));
    } else if (a == "--strips") {
      options.tiling.mode = eoscale::TileMode::kStrips;
    } else if (a == "--memory-budget-mib") {
      // 0 is refused rather than taken as "automatic": a budget the user
      // typed is a promise, and 0 MiB cannot be kept. 2^40 MiB: no overflow.
      const int64_t mib = next_int("--memory-budget-mib");
      if (mib == 0 || mib > (int64_t{1} << 40)) {
        std::fprintf(stderr,
                     "water_mask: --memory-budget-mib must be between 1 and 2^40, got %lld "
                     "(omit it for the default budget)\n",
                     static_cast<long long>(mib));
        return 2;
      }
      options.memory_budget_bytes = mib << 20;
    } else if (a == "--dot" || a == "--trace") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "water_mask: %s needs a file name\n", a.c_str());
        return 2;
      }
      (a == "--dot" ? options.dot_path : options.trace_path) = argv[++i];
    } else if (a == "--report") {
      report = true;
    } else if (a == "--no-sync") {
      options.durable = false;
    } else if (a == "--co") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "water_mask: --co needs KEY=VALUE\n");
        return 2;
      }
      options.writer_options.push_back(argv[++i]);
    } else if (a == "-h" || a == "--help") {
      Usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "water_mask: unknown option %s\n", a.c_str());
      Usage();
      return 2;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty()) {
    Usage();
    return 2;
  }
  const std::string output = positional[0];
  std::vector<std::string> inputs(positional.begin() + 1, positional.end());
  std::string tmpdir;
  if (inputs.empty()) {
    const char* env_tmp = std::getenv("TMPDIR");
    std::string templ = std::string(env_tmp != nullptr && *env_tmp != '\0' ? env_tmp : "/tmp") +
                        "/eoscale-water-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      std::perror("water_mask: mkdtemp");
      return 1;
    }
    tmpdir = templ;
    std::printf("generating 4 synthetic dates of 3500x3500 in %s ...\n", tmpdir.c_str());
    std::fflush(stdout);
    auto made = eoscale::examples::MakeS2Like(tmpdir, 3500, 4, 42, eoscale::examples::StopRequested);
    if (!made.ok()) {
      std::filesystem::remove_all(tmpdir);
      if (int code = StoppedExit()) return code;
      std::fprintf(stderr, "water_mask: %s\n", std::string(made.status().message()).c_str());
      return 1;
    }
    inputs = *made;
  }
  // Stops the run at the first tile task after a stop signal; draws a
  // one-line progress bar, updated in place, only on a terminal.
  const bool tty = ::isatty(STDOUT_FILENO) && first_rank;
  int last_percent = -1;
  options.progress = [tty, &last_percent](const eoscale::Progress& p) {
    if (eoscale::examples::StopRequested()) return false;
    if (!tty) return true;
    const int percent = static_cast<int>(100 * p.tiles_done / std::max<int64_t>(p.tiles_total, 1));
    if (percent != last_percent) {
      last_percent = percent;
      const int filled = percent / 4;
      std::printf("\r[%.*s%*s] %3d%%  %lld/%lld tile tasks", filled, "#########################", 25 - filled, "",
                  percent, static_cast<long long>(p.tiles_done), static_cast<long long>(p.tiles_total));
      std::fflush(stdout);
    }
    return true;
  };
  // A signal before the run: nothing to cancel.
  if (int code = StoppedExit()) {
    if (!tmpdir.empty()) std::filesystem::remove_all(tmpdir);
    return code;
  }
  auto result = eoscale::examples::RunWaterMask(inputs, output, options);
  if (tty && last_percent >= 0) std::printf("\n");
  if (!tmpdir.empty()) std::filesystem::remove_all(tmpdir);
  // A signal during the run (the run was cancelled: nothing written) or
  // after its last tile (the outputs are complete and in place): 128 + N.
  if (int code = StoppedExit(result.ok())) return code;
  if (!result.ok()) {
    std::fprintf(stderr, "water_mask: %s\n", result.status().ToString().c_str());
    return 1;
  }
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  const auto& s = result->stats;
  if (!first_rank) return 0;
  std::printf("wrote %s (%d dates, tiles %dx%d, %d workers)\n", output.c_str(), static_cast<int>(inputs.size()),
              s.tile_width, s.tile_height, options.workers);
  if (s.ranks > 1) {
    std::printf("ranks               %d (halo recomputed: %.1f %% of the output)\n", s.ranks, 100 * s.halo_fraction);
  }
  std::printf("wall seconds        %.3f\n", s.wall_seconds);
  std::printf("megapixels/second   %.1f\n", static_cast<double>(result->pixels) / s.wall_seconds / 1e6);
  std::printf("peak live bytes     %lld (%.1f MiB, budget %.1f MiB)\n", static_cast<long long>(s.peak_live_bytes),
              s.peak_live_bytes / 1048576.0, s.budget_bytes / 1048576.0);
  std::printf("peak RSS            %.1f MiB\n", ru.ru_maxrss / 1024.0);
  std::printf("water pixels        %lld of %lld\n", static_cast<long long>(result->water_pixels),
              static_cast<long long>(result->pixels));
  if (report) std::printf("\n%s", eoscale::FormatMemoryReport(s).c_str());
  if (!options.dot_path.empty()) std::printf("graph written to %s\n", options.dot_path.c_str());
  if (!options.trace_path.empty()) std::printf("trace written to %s\n", options.trace_path.c_str());
  return 0;
}
