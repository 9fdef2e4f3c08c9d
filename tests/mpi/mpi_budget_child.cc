// The pipeline example's graph (margin 100) under a memory budget, for the
// MPI tests: every rank prints its own peak of live tile bytes and budget.
//
// Usage: mpi_budget_child DSM OUTDIR BUDGET_MIB [--workers N] [--tile-size PX] [--co KEY=VALUE]...
// Prints, on every rank, "own K peak P budget B"; on rank 0 also one
// "per_rank K peak P budget B" line per rank (the figures gathered there).
// Exit status: 0; 1 (the run failed: its error on stderr, on every rank).
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "eoscale/mpi/session.h"
#include "pipeline.h"

int main(int argc, char** argv) {
  std::optional<eoscale::mpi::Session> mpi;
  if (eoscale::mpi::LaunchedByMpi()) mpi.emplace(&argc, &argv);
  if (argc < 4) {
    std::fprintf(stderr, "usage: mpi_budget_child DSM OUTDIR BUDGET_MIB [--workers N] [--tile-size PX] [--co KEY=VALUE]...\n");
    return 2;
  }
  eoscale::examples::PipelineOptions o;
  int mib = 0;
  if (!absl::SimpleAtoi(argv[3], &mib)) return 2;
  o.memory_budget_bytes = int64_t{mib} << 20;
  for (int i = 4; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--co") == 0) {
      o.writer_options.push_back(argv[i + 1]);
      continue;
    }
    int v = 0;
    if (!absl::SimpleAtoi(argv[i + 1], &v)) return 2;
    if (std::strcmp(argv[i], "--workers") == 0) o.workers = v;
    if (std::strcmp(argv[i], "--tile-size") == 0) o.tiling.tile_size = v;
  }
  if (mpi) o.distribution = mpi->world();
  const int rank = o.distribution ? o.distribution->rank() : 0;
  auto r = eoscale::examples::RunPipeline(argv[1], argv[2], o);
  if (!r.ok()) {
    std::fprintf(stderr, "mpi_budget_child: %s\n", r.status().ToString().c_str());
    return 1;
  }
  const eoscale::RunStats& s = r->stats;
  const int64_t own_peak = s.per_rank.empty() ? s.peak_live_bytes : s.per_rank[0].peak_live_bytes;
  std::printf("own %d peak %lld budget %lld\n", rank, static_cast<long long>(own_peak),
              static_cast<long long>(s.budget_bytes));
  for (size_t k = 0; k < s.per_rank.size(); ++k) {
    std::printf("per_rank %zu peak %lld budget %lld\n", k, static_cast<long long>(s.per_rank[k].peak_live_bytes),
                static_cast<long long>(s.per_rank[k].budget_bytes));
  }
  return 0;
}
