// pipeline: EOScale's examples/pipeline.py in C++, step for step.
//
//   dsm.tif ──┬── nodata mask ──┬──────────────────────────── nodata_mask.tif
//             │                 │
//             └─────────────────┴── fill nodata (margin 100) ──┬── filled_dsm.tif
//                                                              │
//                                   uniform 3x3 (margin 1) ────┴──┬── smooth_dsm.tif
//                                                                 └── min / max
//
// Usage: pipeline [--workers N] [--tile-size PX] [--strips] [--vrt] [--co KEY=VALUE]... [--no-sync]
//                 [INPUT_DSM.tif] OUTDIR
// With no input, a synthetic DSM with holes is generated first
// (OUTDIR/synthetic_dsm.tif, 2000 x 1500).
//
// --vrt writes OUTDIR/{...}.vrt instead of .tif. Built with EOSCALE_WITH_MPI
// and started by an MPI launcher (mpirun, srun), it runs across the job's
// ranks (docs/distributed.md): each rank computes its rows of every output,
// rank 0 generates the synthetic DSM and prints the results; .vrt outputs
// are one GeoTIFF per rank joined by the VRT.
//
// Exit status: 0; 1 (error); 2 (usage); 128 + N after signal N (SIGINT,
// SIGTERM, SIGHUP): the run is cancelled, its temporary files removed, and
// previous files under the output names are left as they were. A DSM with
// no valid pixel (all nodata or NaN) is processed, and the program says
// "no valid pixel" instead of printing a min and max.
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <optional>

#include "absl/strings/numbers.h"
#ifdef EOSCALE_WITH_MPI
#include "eoscale/mpi/session.h"
#endif
#include "pipeline.h"
#include "stop_signals.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: pipeline [--workers N] [--tile-size PX] [--strips] [--vrt] [--co KEY=VALUE]...\n"
               "                [--no-sync] [INPUT_DSM.tif] OUTDIR\n"
               "Writes OUTDIR/{nodata_mask,filled_dsm,smooth_dsm}.tif and prints the smoothed DSM's\n"
               "min and max. With no input, generates OUTDIR/synthetic_dsm.tif first.\n"
               "  --co KEY=VALUE  GeoTIFF creation option of the outputs (e.g. COMPRESS=DEFLATE)\n"
               "  --no-sync       leave the outputs in the page cache (no fsync; see WriteOptions::durable)\n");
}

// 128 + N after stop signal N, with a message; 0 if none was received.
// `completed`: the run had committed its outputs when the signal came.
int StoppedExit(bool completed = false) {
  const int sig = eoscale::examples::StopSignal();
  if (sig == 0) return 0;
  std::fprintf(stderr, completed ? "pipeline: stopped by %s after the run completed: the outputs are complete\n"
                                 : "pipeline: stopped by %s: no output written, previous files kept\n",
               eoscale::examples::SignalName(sig).c_str());
  return eoscale::examples::ExitCodeForSignal(sig);
}

bool KeepGoing(const eoscale::Progress&) { return !eoscale::examples::StopRequested(); }

}  // namespace

int main(int argc, char** argv) {
  eoscale::examples::PipelineOptions options;
#ifdef EOSCALE_WITH_MPI
  std::optional<eoscale::mpi::Session> mpi;
  if (eoscale::mpi::LaunchedByMpi()) {
    mpi.emplace(&argc, &argv);
    options.distribution = mpi->world();
  }
#endif
  const bool first_rank = options.distribution == nullptr || options.distribution->rank() == 0;
  if (!eoscale::examples::InstallStopSignalHandlers()) {
    std::perror("pipeline: sigaction");
    return 1;
  }
  options.progress = KeepGoing;  // a stop signal cancels the run at the next tile task
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next_int = [&](const char* what) {
      int v = 0;
      if (i + 1 >= argc || !absl::SimpleAtoi(argv[i + 1], &v) || v < 0) {
        std::fprintf(stderr, "pipeline: %s needs a non-negative integer\n", what);
        std::exit(2);
      }
      ++i;
      return v;
    };
    if (a == "--workers") {
      options.workers = next_int("--workers");
    } else if (a == "--tile-size") {
      options.tiling.tile_size = next_int("--tile-size");
    } else if (a == "--vrt") {
      options.extension = ".vrt";
    } else if (a == "--co") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "pipeline: --co needs KEY=VALUE\n");
        return 2;
      }
      options.writer_options.push_back(argv[++i]);
    } else if (a == "--no-sync") {
      options.durable = false;
    } else if (a == "--strips") {
      options.tiling.mode = eoscale::TileMode::kStrips;
    } else if (a == "-h" || a == "--help") {
      Usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "pipeline: unknown option %s\n", a.c_str());
      Usage();
      return 2;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty() || positional.size() > 2) {
    Usage();
    return 2;
  }
  const std::string outdir = positional.back();
  std::error_code ec;
  std::filesystem::create_directories(outdir, ec);
  if (ec) {
    std::fprintf(stderr, "pipeline: cannot create %s: %s\n", outdir.c_str(), ec.message().c_str());
    return 1;
  }
  std::string input;
  if (positional.size() == 2) {
    input = positional[0];
  } else {
    input = outdir + "/synthetic_dsm.tif";
    absl::Status s;
    if (first_rank) {
      std::printf("generating a synthetic 2000x1500 DSM with holes: %s\n", input.c_str());
      std::fflush(stdout);
      s = eoscale::examples::MakeSyntheticDsm(input, 2000, 1500, 1, "", KeepGoing);
    }
    if (options.distribution != nullptr) s = options.distribution->Agree(s);  // the others wait for rank 0's
    if (!s.ok()) {
      if (int code = StoppedExit()) return code;
      std::fprintf(stderr, "pipeline: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  if (int code = StoppedExit()) return code;  // a signal before the run: nothing to cancel
  auto result = eoscale::examples::RunPipeline(input, outdir, options);
  if (int code = StoppedExit(result.ok())) return code;
  if (!result.ok()) {
    std::fprintf(stderr, "pipeline: %s\n", result.status().ToString().c_str());
    return 1;
  }
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  if (!first_rank) return 0;
  std::printf("wrote %s/{nodata_mask,filled_dsm,smooth_dsm}%s in %.3f s (%d workers, tiles %dx%d)\n",
              outdir.c_str(), options.extension.c_str(), result->stats.wall_seconds, options.workers,
              result->stats.tile_width, result->stats.tile_height);
  if (result->stats.ranks > 1) {
    std::printf("ranks %d, halo recomputed: %.1f %% of the outputs\n", result->stats.ranks,
                100 * result->stats.halo_fraction);
  }
  std::printf("peak live bytes %.1f MiB, peak RSS %.1f MiB\n", result->stats.peak_live_bytes / 1048576.0,
              ru.ru_maxrss / 1024.0);
  if (result->valid_pixels == 0) {
    std::printf("no valid pixel: every pixel of %s is nodata or NaN, so it has no min or max\n", input.c_str());
    return 0;
  }
  std::printf("%.9g %.9g\n", result->min, result->max);  // as EOScale: print(stats[0], stats[1])
  return 0;
}
