// The filters' per-worker scratch is part of the memory budget (issue 12,
// "the budget is a promise"): a Map that declares MapFilter::scratch_bytes
// gets that much kept out of the tile budget for each worker, the run
// measures what the scratch really held, and a budget that cannot hold the
// tiles and the scratch is refused before anything runs, saying so.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/uniform.h"
#include "eoscale/graph/context.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::RandomArray;
using ::testing::HasSubstr;

constexpr int64_t kMiB = int64_t{1} << 20;

Profile F32(int width, int height) {
  Profile p;
  p.width = width;
  p.height = height;
  p.type = PixelType::kF32;
  p.nodata = 0.0;
  return p;
}

// EOScale's pipeline without its mask: fill nodata (margin 100), then a
// 3 x 3 mean, read back whole.
Array Copy(const Array& a) {
  Array copy(a.profile());
  std::copy_n(static_cast<const std::byte*>(a.data()), a.bytes(), static_cast<std::byte*>(copy.mutable_data()));
  return copy;
}

absl::StatusOr<RunStats> RunPipeline(const ContextOptions& o, const Array& input,
                                     filters::FillNodataOptions fill = {}) {
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  if (!ctx.ok()) return ctx.status();
  absl::StatusOr<Image> src = (*ctx)->FromArray(Copy(input));
  if (!src.ok()) return src.status();
  absl::StatusOr<std::vector<Image>> filled = (*ctx)->Map({*src}, filters::FillNodata(fill));
  if (!filled.ok()) return filled.status();
  absl::StatusOr<std::vector<Image>> smooth = (*ctx)->Map(*filled, filters::Uniform(3));
  if (!smooth.ok()) return smooth.status();
  absl::StatusOr<Array> out = (*ctx)->ReadAll((*smooth)[0]);
  if (!out.ok()) return out.status();
  return (*ctx)->last_run_stats();
}

TEST(ScratchBudgetTest, MeasuredScratchStaysWithinWhatTheFiltersDeclare) {
  const Array input = RandomArray(F32(700, 520), 5);
  for (int workers : {1, 2}) {
    for (int tile : {0, 128, 300}) {
      for (int smoothing : {0, 2}) {  // FillNodata keeps more planes to smooth
        SCOPED_TRACE(absl::StrCat("workers ", workers, " tile ", tile, " smoothing ", smoothing));
        ContextOptions o;
        o.workers = workers;
        o.tiling.tile_size = tile;
        absl::StatusOr<RunStats> st = RunPipeline(o, input, {.max_search_distance = 100.0,
                                                             .smoothing_iterations = smoothing});
        ASSERT_TRUE(st.ok()) << st.status();
        EXPECT_GT(st->scratch_peak_bytes, 0);
        EXPECT_GT(st->scratch_reserve_bytes, 0);
        EXPECT_LE(st->scratch_peak_bytes, st->scratch_reserve_bytes);
      }
    }
  }
}

TEST(ScratchBudgetTest, TheReserveGrowsWithTheWorkersAndLeavesTheTilesTheRest) {
  const Array input = RandomArray(F32(700, 520), 6);
  int64_t reserve[2] = {0, 0};
  for (int workers : {1, 2}) {
    ContextOptions o;
    o.workers = workers;
    o.tiling.tile_size = 128;
    o.memory_budget_bytes = 96 * kMiB;
    absl::StatusOr<RunStats> st = RunPipeline(o, input);
    ASSERT_TRUE(st.ok()) << st.status();
    reserve[workers - 1] = st->scratch_reserve_bytes;
    // Tiles, I/O share and scratch add up to the budget given.
    EXPECT_EQ(st->budget_bytes + st->gdal_cache_max_bytes + st->scratch_reserve_bytes, o.memory_budget_bytes);
    EXPECT_LE(st->peak_live_bytes, st->budget_bytes);
  }
  EXPECT_EQ(reserve[1], 2 * reserve[0]);
}

TEST(ScratchBudgetTest, ABudgetWithoutRoomForTheScratchIsRefusedNamingIt) {
  const Array input = RandomArray(F32(700, 520), 7);
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 128;
  absl::StatusOr<RunStats> probe = RunPipeline(o, input);
  ASSERT_TRUE(probe.ok()) << probe.status();
  // Enough for the tiles and the I/O share (1 MiB at this size), not for
  // the scratch as well.
  o.memory_budget_bytes = probe->min_budget_bytes + kMiB + probe->scratch_reserve_bytes / 2;
  absl::StatusOr<RunStats> st = RunPipeline(o, input);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), absl::StatusCode::kResourceExhausted) << st.status();
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("scratch"));
  EXPECT_THAT(std::string(st.status().message()), HasSubstr(absl::StrCat(probe->scratch_reserve_bytes)));
}

// A user filter's scratch: declared per tile, measured through bytes().
struct Rows {
  std::vector<double> row;
  int64_t bytes() const { return static_cast<int64_t>(row.capacity() * sizeof(double)); }
};

TEST(ScratchBudgetTest, AUserFiltersScratchIsKeptAndMeasured) {
  Profile p = F32(300, 200);
  p.nodata.reset();
  const Array input = RandomArray(p, 8);
  MapFilter f;
  f.name = "row copy";
  f.margin = 2;
  f.scratch_bytes = [](absl::Span<const Profile>, int w, int) { return int64_t{w} * 8; };
  f.fn = [](const MapTile& t) -> absl::Status {
    Rows& s = t.GetScratch<Rows>();
    const auto in = t.In<float>(0);
    const auto out = t.Out<float>(0);
    s.row.reserve(static_cast<size_t>(in.cols()));
    s.row.resize(static_cast<size_t>(in.cols()));
    for (int y = 0; y < out.rows(); ++y) {
      for (int x = 0; x < out.cols(); ++x) s.row[static_cast<size_t>(x)] = in(0, y, x);
      for (int x = 0; x < out.cols(); ++x) out.Row(0, y)[x] = static_cast<float>(s.row[static_cast<size_t>(x)]);
    }
    return absl::OkStatus();
  };
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 64;
  auto ctx = Context::Create(o);
  ASSERT_TRUE(ctx.ok());
  auto src = (*ctx)->FromArray(Copy(input));
  ASSERT_TRUE(src.ok());
  const Image in_image = *src;
  auto m = (*ctx)->Map({&in_image, 1}, std::move(f));
  ASSERT_TRUE(m.ok()) << m.status();
  auto out = (*ctx)->ReadAll((*m)[0]);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->Samples<float>()[12345], input.Samples<float>()[12345]);  // a copy
  const RunStats& st = (*ctx)->last_run_stats();
  // The widest input window: a 64-pixel tile and 2 margins of 2.
  EXPECT_EQ(st.scratch_reserve_bytes, 2 * (64 + 4) * 8);
  EXPECT_GT(st.scratch_peak_bytes, 0);
  EXPECT_LE(st.scratch_peak_bytes, st.scratch_reserve_bytes);
}

}  // namespace
}  // namespace eoscale
