// The budget is a promise about the process (issue 12): a run's peak RSS
// minus the process floor (the same program doing a trivial run with as
// many workers) stays under its memory budget, for tiny tiles (where the
// engine's per-tile bookkeeping, not pixels, is what could grow) and for
// hundreds of inputs with 4 workers (open GDAL handles and per-thread
// blocks). Each run is a child process of its own, so that its peak is its
// own. Not under sanitizers: their shadow memory and quarantine are RSS.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fault_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::ChildResult;
using ::eoscale::testing::RunChild;
using ::eoscale::testing::TempDir;

constexpr int64_t kMiB = int64_t{1} << 20;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// The value of "KEY N" in a child's output (-1 if absent).
int64_t Field(const std::string& output, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::ConsumePrefix(&line, key + " ")) {
      int64_t v = 0;
      if (absl::SimpleAtoi(line, &v)) return v;
    }
  }
  return -1;
}

ChildResult Child(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {EOSCALE_BUDGET_CHILD};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunChild(argv);
}

struct Config {
  const char* name;
  int inputs, size, block, tile, workers, budget_mib;  // tile, budget 0: the defaults
  const char* run = "run";  // the child's mode: "run" (add one, sum) or "fill" (fill nodata, smooth)
  const char* type = "u8";  // of the inputs
};

class BudgetRssTest : public ::testing::TestWithParam<Config> {};

TEST_P(BudgetRssTest, PeakRssOverTheFloorStaysWithinTheBudget) {
  if (kSanitized) GTEST_SKIP() << "sanitizers' own memory counts in the RSS";
  const Config& c = GetParam();
  TempDir dir;
  const std::string prefix = dir.File("in");
  const ChildResult made = Child({"make", std::to_string(c.inputs), std::to_string(c.size),
                                  std::to_string(c.block), prefix, c.type});
  ASSERT_TRUE(made.exited && made.exit_code == 0) << made.output;
  // The floor: the same program, the same workers, a trivial run that reads
  // and writes a GeoTIFF. The smallest of three (a floor is a floor).
  int64_t floor = -1;
  for (int i = 0; i < 3; ++i) {
    const ChildResult f = Child({"floor", std::to_string(c.workers), prefix, dir.File("floor.tif")});
    ASSERT_TRUE(f.exited && f.exit_code == 0) << f.output;
    const int64_t rss = Field(f.output, "peak_rss");
    ASSERT_GT(rss, 0) << f.output;
    floor = floor < 0 ? rss : std::min(floor, rss);
  }
  const ChildResult r = Child({c.run, std::to_string(c.inputs), prefix, std::to_string(c.tile),
                               std::to_string(c.workers), std::to_string(c.budget_mib), dir.File("out.tif")});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.output;
  const int64_t rss = Field(r.output, "peak_rss");
  const int64_t budget = Field(r.output, "budget");
  ASSERT_GT(rss, 0) << r.output;
  if (c.budget_mib > 0) {
    ASSERT_EQ(budget, c.budget_mib * kMiB);
  } else {
    ASSERT_GT(budget, 0) << r.output;
  }
  ::testing::Test::RecordProperty("floor_mib", static_cast<int>(floor / kMiB));
  ::testing::Test::RecordProperty("rss_mib", static_cast<int>(rss / kMiB));
  EXPECT_LE(rss - floor, budget) << c.name << ": peak RSS " << rss / kMiB << " MiB, floor " << floor / kMiB
                                 << " MiB, budget " << budget / kMiB << " MiB; peak live tiles "
                                 << Field(r.output, "peak_live") / kMiB << " MiB";
  std::printf("%s: peak RSS %.1f MiB, floor %.1f MiB, over the floor %.1f MiB, budget %.1f MiB\n", c.name,
              rss / double(kMiB), floor / double(kMiB), (rss - floor) / double(kMiB), budget / double(kMiB));
}

INSTANTIATE_TEST_SUITE_P(
    Configs, BudgetRssTest,
    ::testing::Values(
        // 4 inputs of 160 x 160, 1 x 1 tiles (25 600 tiles, 10 nodes): the
        // bookkeeping of tiny tiles.
        Config{"one_pixel_tiles", 4, 160, 32, 1, 2, 16},
        // 500 inputs of 256 x 256 in 32 x 32 blocks, 4 workers: 500 open
        // files, 1002 nodes.
        Config{"five_hundred_inputs", 500, 256, 32, 32, 4, 64},
        // A budget below what overlapping waves need: one task at a time.
        Config{"tight_budget", 8, 1024, 256, 256, 2, 6},
        // EOScale's pipeline (fill nodata with a margin of 100, then a 3 x 3
        // mean): margin-grown tiles and the filters' per-worker scratch,
        // with the default tile and budget, and with a budget of 96 MiB, on
        // a float image of 3072^2 (36 MiB; EOScale's DSM is 3500^2).
        Config{"fill_nodata_default_budget", 1, 3072, 256, 0, 2, 0, "fill", "f32"},
        Config{"fill_nodata_96_mib", 1, 3072, 256, 0, 2, 96, "fill", "f32"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace eoscale
