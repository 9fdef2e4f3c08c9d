// Fault injection: cancellation requested from the progress callback in the
// middle of the seed pipeline, the 4-date water mask at 3500 x 3500 (NDWI ->
// threshold -> logical AND over the dates, plus a water-pixel count). The
// contract: the run returns a cancelled status within one second of the
// request, and leaves no output (nor any temporary file).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "fault_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

#ifdef EOSCALE_HAVE_EXAMPLES
#include "s2_like.h"
#include "water_mask.h"
#endif

namespace eoscale {
namespace {

using ::eoscale::testing::TempDir;
using ::eoscale::testing::WithWatchdog;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

#ifdef EOSCALE_HAVE_EXAMPLES

constexpr int kSize = 3500, kDates = 4;

struct Config {
  int workers;
  TileMode mode;
  double at;  // cancel once this fraction of the tile tasks is done
};

TEST(CancelTest, WaterMaskCancelledMidRunReturnsCancelledWithinOneSecondAndWritesNothing) {
  TempDir data;
  absl::StatusOr<std::vector<std::string>> dates = examples::MakeS2Like(data.path(), kSize, kDates);
  ASSERT_TRUE(dates.ok()) << dates.status();
  const Config configs[] = {{1, TileMode::kTiles, 0.5}, {2, TileMode::kTiles, 0.5}, {8, TileMode::kTiles, 0.3},
                            {2, TileMode::kStrips, 0.5}, {4, TileMode::kTiles, 0.9}};
  for (const Config& c : configs) {
    SCOPED_TRACE(absl::StrCat(c.workers, " workers, ", c.mode == TileMode::kTiles ? "tiles" : "strips",
                              ", cancelled at ", c.at * 100, "%"));
    TempDir out_dir;
    std::atomic<bool> requested{false};
    std::atomic<int64_t> requested_at_ns{0}, done_at_request{0}, total{0}, calls_after{0};
    examples::WaterMaskOptions o;
    o.workers = c.workers;
    o.tiling.mode = c.mode;
    o.progress = [&](const Progress& p) {
      if (requested.load()) {
        ++calls_after;
        return false;
      }
      total = p.tiles_total;
      if (static_cast<double>(p.tiles_done) >= c.at * static_cast<double>(p.tiles_total)) {
        done_at_request = p.tiles_done;
        requested_at_ns = Clock::now().time_since_epoch().count();
        requested = true;
        return false;
      }
      return true;
    };
    const std::string out = out_dir.File("water.tif");
    const absl::StatusOr<examples::WaterMaskResult> r =
        WithWatchdog<absl::StatusOr<examples::WaterMaskResult>>(
            std::chrono::seconds(120), "the cancelled water mask",
            [&] { return examples::RunWaterMask(*dates, out, o); });
    const int64_t returned_ns = Clock::now().time_since_epoch().count();
    ASSERT_TRUE(requested.load()) << "the run finished without reaching the cancellation point";
    ASSERT_FALSE(r.ok()) << "a cancelled run reported success";
    ::testing::Test::RecordProperty(absl::StrCat("error_w", c.workers), r.status().ToString());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("cancelled by the progress callback"));
    const double latency = static_cast<double>(returned_ns - requested_at_ns.load()) * 1e-9;
    EXPECT_LT(latency, 1.0) << "Run() returned " << latency << " s after the cancellation request";
    EXPECT_GT(done_at_request.load(), 0);
    EXPECT_LT(done_at_request.load(), total.load()) << "cancelled after the last task: not mid-run";
    EXPECT_TRUE(out_dir.List().empty()) << "a cancelled run left a file";
    std::printf("[ cancel   ] %d workers %s: requested after %lld of %lld tile tasks, returned %.1f ms later, "
                "%lld tasks finished after the request\n",
                c.workers, c.mode == TileMode::kTiles ? "tiles" : "strips",
                static_cast<long long>(done_at_request.load()), static_cast<long long>(total.load()),
                latency * 1e3, static_cast<long long>(calls_after.load()));
  }
}

#else

TEST(CancelTest, NeedsTheExamples) { GTEST_SKIP() << "built without the examples (water mask, s2_like)"; }

#endif

}  // namespace
}  // namespace eoscale
