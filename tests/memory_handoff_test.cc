// Sequential runs hold no tile past its last reader, even when the thread
// that handed it on is preempted (graph/gathering_node.cc): a test hook holds
// that thread where the scheduler only rarely stops one.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "eoscale/graph/context.h"
#include "eoscale/graph/test_hooks.h"
#include "gtest/gtest.h"
#include "memory_test_util.h"

namespace eoscale {
namespace {

using ::eoscale::memory_test::U8Profile;
using ::eoscale::memory_test::WeightedSum;
using ::eoscale::memory_test::WithWatchdog;
using ::eoscale::memory_test::kMiB;

// A port body that gathers (here: a Map of two inputs) hands its tile to the
// consumer tiles waiting for it, then finishes; if its thread is preempted in
// between, the other worker goes on alone. In sequential mode (a budget below
// what overlapping waves need) that worker runs the replay's next tasks,
// which count the tile freed once its last reader ran: the preempted body
// must hold no reference to it by then. It held one up to a reset a few
// instructions later, and a preemption there, rare on an idle machine, put
// the store over its budget by that tile (random_graph_test's case 131 of
// shard 1: 87120 bytes live under 62472). The hook stops that body there
// until the next wave's Map ran; the run must stay within the stated
// minimum all the same.
namespace handoff {
std::mutex mu;
std::condition_variable cv;
bool held = false;            // guarded by mu: the hook held a body
bool later_wave_ran = false;  // guarded by mu: the Map computed a tile after tile 0
bool waited = false;          // guarded by mu: the hook let go once that happened
void Hold(int, int64_t tile, bool completed) {
  std::unique_lock<std::mutex> l(mu);
  if (held || completed || tile != 0) return;  // the first piece of tile 0, once
  held = true;
  waited = cv.wait_for(l, std::chrono::seconds(30), [] { return later_wave_ran; });
}
}  // namespace handoff

TEST(MemoryTest, SequentialRunHoldsNoPieceAfterItsHandOff) {
  Profile p = U8Profile(64, 256);  // four 64 x 64 tiles in a column
  p.type = PixelType::kF32;
  // m0 = a + b (two inputs: it gathers), m1 = 2 b (one input: it does not).
  // Per wave, in the replay's order: read b, m1, its reduction, read a, m0,
  // its reduction: one task at a time the peak is a + b + m0's tile, while
  // the wave allocates m1's tile as well, so the minimum runs sequentially.
  auto build = [&](Context& c, Reduction<uint64_t>* r0, Reduction<uint64_t>* r1) -> absl::Status {
    absl::StatusOr<Image> a = c.CreateConstant(p, 1.0);
    if (!a.ok()) return a.status();
    absl::StatusOr<Image> b = c.CreateConstant(p, 2.0);
    if (!b.ok()) return b.status();
    MapFilter add;
    add.name = "add";
    add.profiles = [](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
      return std::vector<Profile>{in[0]};
    };
    add.fn = [](const MapTile& t) -> absl::Status {
      const auto x = t.In<float>(0), y = t.In<float>(1);
      const auto o = t.Out<float>(0);
      for (int r = 0; r < o.rows(); ++r) {
        for (int k = 0; k < o.cols(); ++k) o.Row(0, r)[k] = x.Row(0, r)[k] + y.Row(0, r)[k];
      }
      if (t.tile.index > 0) {
        std::lock_guard<std::mutex> l(handoff::mu);
        handoff::later_wave_ran = handoff::held;
        handoff::cv.notify_all();
      }
      return absl::OkStatus();
    };
    MapFilter twice;
    twice.name = "twice";
    twice.fn = [](const MapTile& t) -> absl::Status {
      const auto x = t.In<float>(0);
      const auto o = t.Out<float>(0);
      for (int r = 0; r < o.rows(); ++r) {
        for (int k = 0; k < o.cols(); ++k) o.Row(0, r)[k] = 2 * x.Row(0, r)[k];
      }
      return absl::OkStatus();
    };
    absl::StatusOr<std::vector<Image>> m0 = c.Map({*a, *b}, add);
    if (!m0.ok()) return m0.status();
    absl::StatusOr<std::vector<Image>> m1 = c.Map({*b}, twice);
    if (!m1.ok()) return m1.status();
    absl::StatusOr<Reduction<uint64_t>> s0 = c.Reduce<uint64_t>({(*m0)[0]}, WeightedSum<float>());
    if (!s0.ok()) return s0.status();
    absl::StatusOr<Reduction<uint64_t>> s1 = c.Reduce<uint64_t>({(*m1)[0]}, WeightedSum<float>());
    if (!s1.ok()) return s1.status();
    *r0 = *s0;
    *r1 = *s1;
    return c.Run();
  };
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 64;
  int64_t min_ws = 0;
  uint64_t want0 = 0, want1 = 0;
  {
    auto ctx = Context::Create(o);
    ASSERT_TRUE(ctx.ok());
    Reduction<uint64_t> r0, r1;
    ASSERT_TRUE(build(**ctx, &r0, &r1).ok());
    want0 = *r0.Get();
    want1 = *r1.Get();
    min_ws = (*ctx)->last_run_stats().min_budget_bytes;
    ASSERT_GT(min_ws, 0);
  }
  const int64_t exact = min_ws + kMiB;  // the GDAL cache part is 1 MiB below 8 MiB
  ASSERT_LE(exact, 8 * kMiB);
  o.memory_budget_bytes = exact;
  auto ctx = Context::Create(o);
  ASSERT_TRUE(ctx.ok());
  {
    std::lock_guard<std::mutex> l(handoff::mu);
    handoff::held = handoff::later_wave_ran = handoff::waited = false;
  }
  internal::SetPieceHandedHookForTesting(&handoff::Hold);
  Reduction<uint64_t> r0, r1;
  absl::Status st;
  WithWatchdog(std::chrono::seconds(120), [&] { st = build(**ctx, &r0, &r1); });
  internal::SetPieceHandedHookForTesting(nullptr);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(*r0.Get(), want0);
  EXPECT_EQ(*r1.Get(), want1);
  {
    std::lock_guard<std::mutex> l(handoff::mu);
    ASSERT_TRUE(handoff::held) << "no port body reached the hook on tile 0";
    ASSERT_TRUE(handoff::waited) << "the other worker did not reach the next wave while one body was held";
  }
  const RunStats& rs = (*ctx)->last_run_stats();
  EXPECT_TRUE(rs.sequential);
  EXPECT_EQ(rs.budget_bytes, min_ws);
  EXPECT_LE(rs.peak_live_bytes, rs.budget_bytes) << "the store went over its budget";
}

}  // namespace
}  // namespace eoscale
