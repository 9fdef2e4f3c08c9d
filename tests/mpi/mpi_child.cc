// The program the MPI tests run under mpirun (and alone, for the
// single-process reference). Every rank builds the same graph over an
// in-memory f64 image: a 7x7 mean (margin 3) written to OUTPUT (.tif or
// .vrt), and two reductions whose fold order shows in their last bits: a
// sum (trivially copyable, serialised by default) and per-row-block sums in
// a std::vector<double> (serialised by the reduction itself).
//
// Usage: mpi_child MODE RANK OUTPUT [--workers N] [--tile-size PX] [--input IMAGE]
//                  [--budget-mib N] [--trace FILE] [--dot FILE] [--figures] [--compress] [--funneled]
//   --compress: OUTPUT written with COMPRESS=DEFLATE
//   --fail-open K: rank K's MPI_File_open of an in-place .tif fails
//   --funneled: MPI initialised by this program with MPI_THREAD_FUNNELED
//     (a compressed .tif is then assembled by rank 0 after the run)
//   --slow-ms N: each tile of the mean sleeps N ms; with --figures every
//     rank prints "filtered K N" (tiles its mean ran), even when it failed
//   --trace FILE, --dot FILE: rank 0 writes the run's Chrome trace, DOT graph
//   --not-durable: OUTPUT written with WriteOptions::durable false
//   --count-fsync: every rank prints "fsyncs K N" after a successful run (N:
//     fsync calls made in this process; this program defines fsync itself,
//     so that the engine's calls land here, are counted and forwarded)
//   --figures: rank 0 prints "tiles N", "tasks N", "ranks N", one
//     "per_rank K tiles T owned O tasks N peak P budget B" line per rank,
//     "progress DONE TOTAL" (its callback's last call), "progress_calls N",
//     and the memory report; every rank prints
//     "own K peak P budget B" (its own figures)
//   MODE run:  prints "sum <hex>", "blocks <hex> ...", "halo F" and
//              "in_place N" (outputs written in place with MPI-IO) and
//              "gathered N" (written by rank 0 from the ranks' tiles) on rank 0
//   MODE fail: the filter fails on every tile of rank RANK
//   MODE kill: rank RANK kills itself (SIGKILL) in its first tile
//   MODE noserial: the vector reduction has no serialisation
// Exit status: 0, 1 (the run failed: its error on stderr, on every rank).
#include <mpi.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "eoscale/filters/uniform.h"
#include "eoscale/graph/context.h"
#include "eoscale/graph/report.h"
#include "eoscale/mpi/mpi_distribution.h"
#include "eoscale/mpi/session.h"

namespace {
std::atomic<int> g_fsyncs{0};
}  // namespace

extern "C" int fsync(int fd) {
  g_fsyncs.fetch_add(1);
  return static_cast<int>(::syscall(SYS_fsync, fd));
}

namespace {

constexpr int kWidth = 300;
constexpr int kHeight = 1000;

// Values of very different magnitudes: a sum's last bits depend on its order.
eoscale::Array MakeImage() {
  eoscale::Profile p;
  p.width = kWidth;
  p.height = kHeight;
  p.type = eoscale::PixelType::kF64;
  eoscale::Array a(p);
  auto s = a.MutableSamples<double>();
  uint64_t x = 88172645463325252ull;
  for (double& v : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v = std::ldexp(static_cast<double>(x % 1000003) / 1000003.0, static_cast<int>(x % 41) - 20);
  }
  return a;
}

std::string Hex(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%a", v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  // --funneled: MPI initialised here with MPI_THREAD_FUNNELED (as a host
  // may), before the Session, which then leaves it to this program.
  bool funneled = false;
  for (int i = 4; i < argc; ++i) funneled = funneled || std::strcmp(argv[i], "--funneled") == 0;
  struct Finalize {
    bool on = false;
    ~Finalize() {
      if (on) MPI_Finalize();
    }
  } finalize;
  std::optional<eoscale::mpi::Session> mpi;
  if (eoscale::mpi::LaunchedByMpi()) {
    if (funneled) {
      int provided = 0;
      MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
      finalize.on = true;
    }
    mpi.emplace(&argc, &argv);
  }
  if (argc < 4) {
    std::fprintf(stderr, "usage: mpi_child run|fail|kill RANK OUTPUT [--workers N] [--tile-size PX]\n");
    return 2;
  }
  const std::string mode = argv[1];
  int target = 0;
  if (!absl::SimpleAtoi(argv[2], &target)) return 2;
  const std::string output = argv[3];
  eoscale::ContextOptions co;
  co.tiling.tile_size = 64;
  std::string input;  // --input: the image read from a file instead
  std::string trace, dot;
  bool figures = false;
  int slow_ms = 0;  // --slow-ms: each tile of the mean sleeps this long
  bool compress = false;     // --compress: OUTPUT written with DEFLATE
  bool not_durable = false;  // --not-durable
  bool count_fsync = false;  // --count-fsync
  bool funneled_seen = false;  // --funneled: read above, before MPI starts
  const std::pair<const char*, bool*> switches[] = {{"--compress", &compress},
                                                    {"--not-durable", &not_durable},
                                                    {"--count-fsync", &count_fsync},
                                                    {"--funneled", &funneled_seen},
                                                    {"--figures", &figures}};
  for (int i = 4; i < argc; i += 2) {
    bool is_switch = false;
    for (const auto& [name, flag] : switches) {
      if (std::strcmp(argv[i], name) == 0) is_switch = *flag = true;
    }
    if (is_switch) {
      --i;  // a switch takes no value
      continue;
    }
    if (i + 1 >= argc) return 2;
    if (std::strcmp(argv[i], "--input") == 0) {
      input = argv[i + 1];
      continue;
    }
    if (std::strcmp(argv[i], "--dot") == 0) {
      dot = argv[i + 1];
      continue;
    }
    if (std::strcmp(argv[i], "--trace") == 0) {
      trace = argv[i + 1];
      co.trace = true;
      continue;
    }
    int v = 0;
    if (!absl::SimpleAtoi(argv[i + 1], &v)) return 2;
    if (std::strcmp(argv[i], "--workers") == 0) co.workers = v;
    if (std::strcmp(argv[i], "--tile-size") == 0) co.tiling.tile_size = v;
    if (std::strcmp(argv[i], "--slow-ms") == 0) slow_ms = v;
    if (std::strcmp(argv[i], "--fail-open") == 0) eoscale::mpi::internal::FailFileOpenOnRankForTesting(v);
    if (std::strcmp(argv[i], "--budget-mib") == 0) co.memory_budget_bytes = int64_t{v} << 20;
  }
  // The progress callback's last call and number of calls (calls are one at a time).
  int64_t last_done = -1, last_total = -1, calls = 0;
  if (figures) {
    co.progress = [&](const eoscale::Progress& p) {
      last_done = p.tiles_done;
      last_total = p.tiles_total;
      ++calls;
      return true;
    };
  }
  if (mpi) co.distribution = mpi->world();
  const int rank = co.distribution ? co.distribution->rank() : 0;

  auto ctx = eoscale::Context::Create(co);
  if (!ctx.ok()) return 1;
  eoscale::Context& c = **ctx;
  auto img = input.empty() ? c.FromArray(MakeImage()) : c.Open(input);
  if (!img.ok()) return 1;
  eoscale::MapFilter mean = eoscale::filters::Uniform(7);
  auto fn = mean.fn;
  // Tiles this rank filtered (printed as "filtered K N" with --figures).
  static std::atomic<int64_t> filtered{0};
  mean.fn = [fn, mode, target, rank, slow_ms](const eoscale::MapTile& t) -> absl::Status {
    filtered.fetch_add(1);
    if (slow_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
    if (rank == target && mode == "fail") return absl::InternalError("injected failure");
    if (rank == target && mode == "kill") ::raise(SIGKILL);
    return fn(t);
  };
  auto smooth = c.Map({*img}, mean);
  if (!smooth.ok()) return 1;

  eoscale::ReduceFilter<double> sum;
  sum.name = "sum";
  sum.map = [](const eoscale::ReduceTile& t) -> absl::StatusOr<double> {
    const auto v = t.In<double>(0);
    double s = 0;
    for (int y = 0; y < v.rows(); ++y) {
      for (int x = 0; x < v.cols(); ++x) s += v(0, y, x);
    }
    return s;
  };
  sum.combine = [](double a, double b) { return a + b; };
  // Sums per block of 100 rows, folded as a vector: a value that is not
  // trivially copyable, serialised here.
  eoscale::ReduceFilter<std::vector<double>> blocks;
  blocks.name = "blocks";
  blocks.map = [](const eoscale::ReduceTile& t) -> absl::StatusOr<std::vector<double>> {
    std::vector<double> r(kHeight / 100, 0.0);
    const auto v = t.In<double>(0);
    for (int y = 0; y < v.rows(); ++y) {
      for (int x = 0; x < v.cols(); ++x) r[(t.tile.window.y + y) / 100] += v(0, y, x);
    }
    return r;
  };
  blocks.combine = [](std::vector<double> a, std::vector<double> b) {
    for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
    return a;
  };
  if (mode != "noserial") blocks.serialize = [](const std::vector<double>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
  };
  if (mode != "noserial") blocks.deserialize = [](const std::string& b) -> absl::StatusOr<std::vector<double>> {
    if (b.size() % sizeof(double) != 0) return absl::DataLossError("bad block sums");
    std::vector<double> v(b.size() / sizeof(double));
    std::memcpy(v.data(), b.data(), b.size());
    return v;
  };
  auto s = c.Reduce<double>(*smooth, sum);
  auto bl = c.Reduce<std::vector<double>>(*smooth, blocks);
  if (!s.ok() || !bl.ok()) return 1;
  eoscale::WriteOptions wo;
  if (compress) wo.creation_options.push_back("COMPRESS=DEFLATE");
  wo.durable = !not_durable;
  if (absl::Status st = c.Write((*smooth)[0], output, wo); !st.ok()) {
    std::fprintf(stderr, "mpi_child: %s\n", st.ToString().c_str());
    return 1;
  }
  auto print_filtered = [&] {
    if (!figures) return;
    std::printf("filtered %d %lld\n", rank, static_cast<long long>(filtered.load()));
    std::fflush(stdout);
  };
  if (absl::Status st = c.Run(); !st.ok()) {
    print_filtered();
    std::fprintf(stderr, "mpi_child: %s\n", st.ToString().c_str());
    return 1;
  }
  auto sv = s->Get();
  auto bv = bl->Get();
  if (!sv.ok() || !bv.ok()) return 1;
  print_filtered();
  if (count_fsync) {
    std::printf("fsyncs %d %d\n", rank, g_fsyncs.load());
    std::fflush(stdout);
  }
  const eoscale::RunStats& st = c.last_run_stats();
  if (figures) {
    const int64_t own_peak = st.per_rank.empty() ? st.peak_live_bytes : st.per_rank[0].peak_live_bytes;
    std::printf("own %d peak %lld budget %lld\n", rank, static_cast<long long>(own_peak),
                static_cast<long long>(st.budget_bytes));
    std::fflush(stdout);
  }
  if (rank == 0 && !trace.empty()) {
    if (absl::Status t = c.WriteTrace(trace); !t.ok()) return 1;
  }
  if (rank == 0 && !dot.empty()) {
    if (absl::Status t = c.WriteDot(dot); !t.ok()) return 1;
  }
  if (rank == 0 && figures) {
    std::printf("tiles %lld\ntasks %lld\nranks %d\n", static_cast<long long>(st.tiles),
                static_cast<long long>(st.tasks), st.ranks);
    for (size_t k = 0; k < st.per_rank.size(); ++k) {
      const eoscale::RankStats& r = st.per_rank[k];
      std::printf("per_rank %zu tiles %lld owned %lld tasks %lld peak %lld budget %lld\n", k,
                  static_cast<long long>(r.tiles), static_cast<long long>(r.owned_tiles),
                  static_cast<long long>(r.tasks), static_cast<long long>(r.peak_live_bytes),
                  static_cast<long long>(r.budget_bytes));
    }
    std::printf("progress %lld %lld\nprogress_calls %lld\n", static_cast<long long>(last_done),
                static_cast<long long>(last_total), static_cast<long long>(calls));
    std::printf("%s", eoscale::FormatMemoryReport(st).c_str());
  }
  if (rank == 0) {
    std::printf("sum %s\nblocks", Hex(*sv).c_str());
    for (double d : *bv) std::printf(" %s", Hex(d).c_str());
    std::printf("\nhalo %.4f\nin_place %d\ngathered %d\n", c.last_run_stats().halo_fraction,
                c.last_run_stats().outputs_in_place, c.last_run_stats().outputs_gathered);
  }
  return 0;
}
