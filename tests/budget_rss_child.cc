// A child process for tests/budget_rss_test.cc: a run's whole-process peak
// RSS, measured in a process of its own, against the process floor (the same
// program doing a trivial run) and the budget.
//
//   eoscale_budget_child make N SIZE BLOCK PREFIX [TYPE]
//       writes PREFIX0.tif .. PREFIX<N-1>.tif, SIZE x SIZE random values of
//       TYPE (u8, the default, or f32) tiled BLOCK x BLOCK, nodata 0.
//   eoscale_budget_child floor WORKERS PREFIX OUT
//       copies a 16 x 16 window of PREFIX0.tif to OUT with WORKERS workers
//       (GDAL's drivers registered and its GeoTIFF reader and writer used,
//       the arena's threads started): the process floor.
//   eoscale_budget_child run N PREFIX TILE WORKERS BUDGET_MIB OUT
//       adds one to each of the N inputs (a Map each), sums them all (one Map
//       of N inputs) and writes OUT, with TILE x TILE tiles and a total
//       budget of BUDGET_MIB.
//   eoscale_budget_child fill N PREFIX TILE WORKERS BUDGET_MIB OUT
//       EOScale's pipeline on PREFIX0.tif: fills its nodata (max distance
//       100, the filters' per-worker scratch), smooths it (uniform 3), writes
//       both (OUT and OUT.smooth.tif).
// TILE 0 is the default tile, BUDGET_MIB 0 the default budget.
//
// Prints "peak_rss BYTES" (getrusage) and, for run and fill, "budget BYTES"
// (the total the run held itself to: the tiles', the I/O share and the
// scratch kept) and "peak_live BYTES"; "status CODE MESSAGE" last. Exits 0 when the run
// succeeded, 3 when it failed, 2 on bad arguments.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/uniform.h"
#include "eoscale/graph/context.h"
#include "test_util.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: eoscale_budget_child make N SIZE BLOCK PREFIX [u8|f32]\n"
               "       eoscale_budget_child floor WORKERS PREFIX OUT\n"
               "       eoscale_budget_child run N PREFIX TILE WORKERS BUDGET_MIB OUT\n"
               "       eoscale_budget_child fill N PREFIX TILE WORKERS BUDGET_MIB OUT\n");
  return 2;
}

int64_t PeakRss() {
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

absl::Status Make(int n, int size, int block, const std::string& prefix, const std::string& type) {
  eoscale::Profile p;
  p.width = p.height = size;
  p.type = type == "f32" ? eoscale::PixelType::kF32 : eoscale::PixelType::kU8;
  p.nodata = 0;  // about one pixel in 256, for the fill
  for (int i = 0; i < n; ++i) {
    eoscale::testing::WriteTiff(eoscale::testing::RandomArray(p, 1000 + i), absl::StrCat(prefix, i, ".tif"), block);
  }
  return absl::OkStatus();
}

absl::Status Floor(int workers, const std::string& prefix, const std::string& out) {
  eoscale::ContextOptions o;
  o.workers = workers;
  absl::StatusOr<std::unique_ptr<eoscale::Context>> ctx = eoscale::Context::Create(o);
  if (!ctx.ok()) return ctx.status();
  absl::StatusOr<eoscale::Image> src = (*ctx)->Open(absl::StrCat(prefix, 0, ".tif"));
  if (!src.ok()) return src.status();
  eoscale::WriteOptions w;
  w.window = eoscale::Window{0, 0, 16, 16};
  if (absl::Status s = (*ctx)->Write(*src, out, w); !s.ok()) return s;
  return (*ctx)->Run();
}

eoscale::MapFilter AddOne() {
  eoscale::MapFilter f;
  f.name = "add_one";
  f.fn = [](const eoscale::MapTile& t) -> absl::Status {
    const auto in = t.In<uint8_t>(0);
    const auto out = t.Out<uint8_t>(0);
    for (int y = 0; y < out.rows(); ++y) {
      const uint8_t* i = in.Row(0, y);
      uint8_t* o = out.Row(0, y);
      for (int x = 0; x < out.cols(); ++x) o[x] = static_cast<uint8_t>(i[x] + 1);
    }
    return absl::OkStatus();
  };
  return f;
}

eoscale::MapFilter Sum() {
  eoscale::MapFilter f;
  f.name = "sum";
  f.profiles = [](absl::Span<const eoscale::Profile> in) -> absl::StatusOr<std::vector<eoscale::Profile>> {
    eoscale::Profile p = in[0];
    p.type = eoscale::PixelType::kI32;
    return std::vector<eoscale::Profile>{p};
  };
  f.fn = [](const eoscale::MapTile& t) -> absl::Status {
    const auto out = t.Out<int32_t>(0);
    for (int y = 0; y < out.rows(); ++y) {
      int32_t* o = out.Row(0, y);
      for (int x = 0; x < out.cols(); ++x) o[x] = 0;
      for (size_t k = 0; k < t.inputs.size(); ++k) {
        const uint8_t* i = t.In<uint8_t>(static_cast<int>(k)).Row(0, y);
        for (int x = 0; x < out.cols(); ++x) o[x] += i[x];
      }
    }
    return absl::OkStatus();
  };
  return f;
}

void PrintBudget(const eoscale::RunStats& st) {
  std::printf("budget %lld\npeak_live %lld\n",
              static_cast<long long>(st.budget_bytes + st.gdal_cache_max_bytes + st.scratch_reserve_bytes),
              static_cast<long long>(st.peak_live_bytes));
}

absl::StatusOr<std::unique_ptr<eoscale::Context>> MakeContext(int tile, int workers, int budget_mib) {
  eoscale::ContextOptions o;
  o.workers = workers;
  o.tiling.tile_size = tile;
  o.memory_budget_bytes = int64_t{budget_mib} << 20;
  return eoscale::Context::Create(o);
}

absl::Status Fill(const std::string& prefix, int tile, int workers, int budget_mib, const std::string& out) {
  absl::StatusOr<std::unique_ptr<eoscale::Context>> ctx = MakeContext(tile, workers, budget_mib);
  if (!ctx.ok()) return ctx.status();
  absl::StatusOr<eoscale::Image> src = (*ctx)->Open(absl::StrCat(prefix, 0, ".tif"));
  if (!src.ok()) return src.status();
  absl::StatusOr<std::vector<eoscale::Image>> filled = (*ctx)->Map({*src}, eoscale::filters::FillNodata());
  if (!filled.ok()) return filled.status();
  absl::StatusOr<std::vector<eoscale::Image>> smooth = (*ctx)->Map(*filled, eoscale::filters::Uniform(3));
  if (!smooth.ok()) return smooth.status();
  if (absl::Status s = (*ctx)->Write((*filled)[0], out); !s.ok()) return s;
  if (absl::Status s = (*ctx)->Write((*smooth)[0], out + ".smooth.tif"); !s.ok()) return s;
  const absl::Status s = (*ctx)->Run();
  PrintBudget((*ctx)->last_run_stats());
  return s;
}

absl::Status Run(int n, const std::string& prefix, int tile, int workers, int budget_mib, const std::string& out) {
  absl::StatusOr<std::unique_ptr<eoscale::Context>> ctx = MakeContext(tile, workers, budget_mib);
  if (!ctx.ok()) return ctx.status();
  std::vector<eoscale::Image> plus;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<eoscale::Image> src = (*ctx)->Open(absl::StrCat(prefix, i, ".tif"));
    if (!src.ok()) return src.status();
    absl::StatusOr<std::vector<eoscale::Image>> m = (*ctx)->Map({*src}, AddOne());
    if (!m.ok()) return m.status();
    plus.push_back((*m)[0]);
  }
  absl::StatusOr<std::vector<eoscale::Image>> sum = (*ctx)->Map(plus, Sum());
  if (!sum.ok()) return sum.status();
  if (absl::Status s = (*ctx)->Write((*sum)[0], out); !s.ok()) return s;
  const absl::Status s = (*ctx)->Run();
  PrintBudget((*ctx)->last_run_stats());
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  ::alarm(240);  // never hang a test
  const std::string mode = argv[1];
  absl::Status st;
  if (mode == "make" && (argc == 6 || argc == 7)) {
    st = Make(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]), argv[5], argc == 7 ? argv[6] : "u8");
  } else if (mode == "floor" && argc == 5) {
    st = Floor(std::atoi(argv[2]), argv[3], argv[4]);
  } else if (mode == "run" && argc == 8) {
    st = Run(std::atoi(argv[2]), argv[3], std::atoi(argv[4]), std::atoi(argv[5]), std::atoi(argv[6]), argv[7]);
  } else if (mode == "fill" && argc == 8) {
    st = Fill(argv[3], std::atoi(argv[4]), std::atoi(argv[5]), std::atoi(argv[6]), argv[7]);
  } else {
    return Usage();
  }
  std::printf("peak_rss %lld\n", static_cast<long long>(PeakRss()));
  std::printf("status %d %s\n", static_cast<int>(st.code()), std::string(st.message()).c_str());
  std::fflush(stdout);
  return st.ok() ? 0 : 3;
}
