// Fault injection: a filter that throws (a std::exception or anything else) or
// returns a failing status on the first, a middle or the last tile, deep in a
// graph with fan-in, fan-out, several writes, a reduction and an unrelated
// branch. errors_test.cc checks the single-Map case; this checks the whole
// contract on a richer graph, for 1 and 4 workers, tiles and strips:
//  - the run returns the filter's code, naming the filter, its node, the tile
//    and its window, and the filter's own message;
//  - no output and no temporary file is left; a file that already had the
//    output's name still holds its previous bytes; the input is unchanged;
//  - every tile buffer was freed (the next run starts with no live bytes);
//  - the same Context then runs another graph correctly;
//  - nothing leaks (the suite runs under ASan with leak detection).
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/core/tiling.h"
#include "eoscale/graph/context.h"
#include "fault_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::FileBytes;
using ::eoscale::testing::FingerprintOf;
using ::eoscale::testing::LiveBytesProbe;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::RecordStatus;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WriteTiff;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr int kW = 97, kH = 61, kTile = 16;

enum class Fault { kThrowsStdException, kThrowsSomethingElse, kReturnsError };
enum class Where { kFirst, kMiddle, kLast };

using Param = std::tuple<Fault, Where, int /*workers*/, TileMode>;

Profile MakeProfile(int bands, PixelType type) {
  Profile p;
  p.width = kW;
  p.height = kH;
  p.bands = bands;
  p.type = type;
  return p;
}

// out0 = input 0 (all bands); out1 = input 1 band 0 as i32 plus `add`.
MapFilter TwoOutputs(std::string name, int margin, int32_t add) {
  MapFilter f;
  f.name = std::move(name);
  f.margin = margin;
  f.num_outputs = 2;
  f.profiles = [](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    Profile b = in.back();
    b.bands = 1;
    b.type = PixelType::kI32;
    return std::vector<Profile>{in[0], b};
  };
  f.fn = [add](const MapTile& t) -> absl::Status {
    CopyPixels(t.inputs[0].Sub(t.tile.window), t.outputs[0]);
    const ConstView in1 = t.inputs.back().Sub(t.tile.window).Band(0);
    const auto out = t.outputs[1].As<int32_t>();
    DispatchPixelType(in1.type(), [&]<typename T>() {
      const auto v = in1.As<T>();
      for (int y = 0; y < out.rows(); ++y)
        for (int x = 0; x < out.cols(); ++x) out(0, y, x) = static_cast<int32_t>(v(0, y, x)) + add;
    });
    return absl::OkStatus();
  };
  return f;
}

// The same computations on whole arrays.
Array PlusOneBand0AsI32(const Array& in, int32_t add) {
  Array out(MakeProfile(1, PixelType::kI32));
  auto o = out.MutableSamples<int32_t>();
  DispatchPixelType(in.profile().type, [&]<typename T>() {
    auto s = in.Samples<T>();
    for (size_t i = 0; i < o.size(); ++i) o[i] = static_cast<int32_t>(s[i]) + add;
  });
  return out;
}

ReduceFilter<int64_t> CountPixels() {
  ReduceFilter<int64_t> r;
  r.name = "count";
  r.map = [](const ReduceTile& t) -> absl::StatusOr<int64_t> { return t.tile.window.Pixels(); };
  r.combine = [](int64_t a, int64_t b) { return a + b; };
  return r;
}

class FilterFaultInGraphTest : public ::testing::TestWithParam<Param> {};

TEST_P(FilterFaultInGraphTest, RunFailsNamingNodeAndTileAndLeavesNoTrace) {
  const auto [fault, where, workers, mode] = GetParam();
  TempDir dir;
  const std::string in = dir.File("in.tif"), a = dir.File("a.tif"), b = dir.File("b.tif"),
                    c = dir.File("c.tif");
  const Array input = RandomArray(MakeProfile(2, PixelType::kU16), 11);
  WriteTiff(input, in, 16);
  // a.tif already exists: a failed run must leave its previous bytes alone.
  WriteTiff(RandomArray(MakeProfile(1, PixelType::kU8), 12), a, 16);
  const auto in_before = FingerprintOf(in);
  const std::string a_before = FileBytes(a);

  ContextOptions o;
  o.workers = workers;
  o.tiling.mode = mode;
  o.tiling.tile_size = kTile;
  absl::StatusOr<std::unique_ptr<Context>> made = Context::Create(o);
  ASSERT_TRUE(made.ok()) << made.status();
  Context& ctx = **made;
  absl::StatusOr<TileGrid> grid = MakeTileGrid(kW, kH, o.tiling, workers, 256);
  ASSERT_TRUE(grid.ok());
  const int n = grid->num_tiles();
  const int bad = where == Where::kFirst ? 0 : where == Where::kMiddle ? n / 2 : n - 1;

  absl::StatusOr<Image> src = ctx.Open(in);
  ASSERT_TRUE(src.ok()) << src.status();
  absl::StatusOr<std::vector<Image>> pre = ctx.Map({*src}, TwoOutputs("pre", 1, 1));
  ASSERT_TRUE(pre.ok()) << pre.status();
  MapFilter faulty = TwoOutputs("faulty", 2, 0);
  // (An init-capture: clang 14 cannot capture a structured binding.)
  faulty.fn = [bad, fault = fault, inner = faulty.fn](const MapTile& t) -> absl::Status {
    if (t.tile.index == bad) {
      switch (fault) {
        case Fault::kThrowsStdException: throw std::runtime_error("kaboom");
        case Fault::kThrowsSomethingElse: throw 42;
        case Fault::kReturnsError: return absl::DataLossError("sensor glitch");
      }
    }
    return inner(t);
  };
  absl::StatusOr<std::vector<Image>> out = ctx.Map({(*pre)[0], (*pre)[1]}, faulty);  // fan-in
  ASSERT_TRUE(out.ok()) << out.status();
  const std::string faulty_id = (*out)[0].name().substr(std::string("faulty#").size());  // "2:0"
  ASSERT_TRUE(ctx.Write((*out)[0], a).ok());  // fan-out: two writes and a reduction
  ASSERT_TRUE(ctx.Write((*out)[1], b).ok());
  ASSERT_TRUE(ctx.Reduce<int64_t>({(*out)[0]}, CountPixels()).ok());
  ASSERT_TRUE(ctx.Write(*src, c).ok());  // an unrelated branch of the same run

  const absl::Status st = ctx.Run();
  ASSERT_FALSE(st.ok());
  RecordStatus(st);
  const std::string msg(st.message());
  switch (fault) {
    case Fault::kThrowsStdException:
      EXPECT_EQ(st.code(), absl::StatusCode::kInternal) << st;
      EXPECT_THAT(msg, HasSubstr("threw an exception: kaboom"));
      break;
    case Fault::kThrowsSomethingElse:
      EXPECT_EQ(st.code(), absl::StatusCode::kInternal) << st;
      EXPECT_THAT(msg, HasSubstr("threw an unknown exception"));
      break;
    case Fault::kReturnsError:
      EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
      EXPECT_THAT(msg, HasSubstr("sensor glitch"));
      break;
  }
  EXPECT_THAT(msg, HasSubstr(absl::StrCat("filter 'faulty' (node ", faulty_id.substr(0, faulty_id.find(':')),
                                          ") failed on tile ", bad, " (",
                                          DescribeWindow(grid->TileWindow(bad)), ")")));

  // Nothing left behind; the previous a.tif and the input untouched.
  EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif", "a.tif"));
  EXPECT_EQ(FileBytes(a), a_before) << "a failed run changed the file under the output's name";
  EXPECT_EQ(FingerprintOf(in), in_before);
  EXPECT_EQ(LiveBytesProbe(ctx), 1) << "tile buffers of the failed run are still live";

  // The same context runs another graph, writing the same names.
  absl::StatusOr<std::vector<Image>> good = ctx.Map({*src}, TwoOutputs("good", 2, 1));
  ASSERT_TRUE(good.ok());
  ASSERT_TRUE(ctx.Write((*good)[0], a).ok());
  ASSERT_TRUE(ctx.Write((*good)[1], b).ok());
  ASSERT_TRUE(ctx.Write(*src, c).ok());
  absl::StatusOr<Reduction<int64_t>> count = ctx.Reduce<int64_t>({(*good)[0]}, CountPixels());
  ASSERT_TRUE(count.ok());
  const absl::Status st2 = ctx.Run();
  ASSERT_TRUE(st2.ok()) << st2;
  EXPECT_TRUE(SameBytes(ReadTiff(a), input));
  EXPECT_TRUE(SameBytes(ReadTiff(b), PlusOneBand0AsI32(input, 1)));
  EXPECT_TRUE(SameBytes(ReadTiff(c), input));
  absl::StatusOr<int64_t> pixels = count->Get();
  ASSERT_TRUE(pixels.ok());
  EXPECT_EQ(*pixels, int64_t{kW} * kH);
  EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif", "a.tif", "b.tif", "c.tif"));
  EXPECT_EQ(FingerprintOf(in), in_before);
  EXPECT_EQ(LiveBytesProbe(ctx), 1);
}

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  const auto [fault, where, workers, mode] = info.param;
  static constexpr const char* kFault[] = {"ThrowsStdException", "ThrowsSomethingElse", "ReturnsError"};
  static constexpr const char* kWhere[] = {"First", "Middle", "Last"};
  return absl::StrCat(kFault[static_cast<int>(fault)], "On", kWhere[static_cast<int>(where)], "Tile_W",
                      workers, mode == TileMode::kTiles ? "Tiles" : "Strips");
}

INSTANTIATE_TEST_SUITE_P(
    AllFaults, FilterFaultInGraphTest,
    ::testing::Combine(::testing::Values(Fault::kThrowsStdException, Fault::kThrowsSomethingElse,
                                         Fault::kReturnsError),
                       ::testing::Values(Where::kFirst, Where::kMiddle, Where::kLast), ::testing::Values(1, 4),
                       ::testing::Values(TileMode::kTiles, TileMode::kStrips)),
    ParamName);

// A reduction that throws in the middle of a run that also writes: the write
// is dropped too, and the context recovers.
TEST(FilterFaultTest, ReduceThatThrowsDropsTheRunsWrites) {
  TempDir dir;
  ContextOptions o;
  o.workers = 3;
  o.tiling.tile_size = kTile;
  absl::StatusOr<std::unique_ptr<Context>> made = Context::Create(o);
  ASSERT_TRUE(made.ok());
  Context& ctx = **made;
  const Array input = RandomArray(MakeProfile(1, PixelType::kF32), 13);
  absl::StatusOr<Image> src = ctx.FromArray(RandomArray(MakeProfile(1, PixelType::kF32), 13));
  ASSERT_TRUE(src.ok());
  ReduceFilter<int64_t> r = CountPixels();
  r.name = "fragile";
  r.map = [](const ReduceTile& t) -> absl::StatusOr<int64_t> {
    if (t.tile.index == 5) throw std::out_of_range("histogram bin 300");
    return t.tile.window.Pixels();
  };
  ASSERT_TRUE(ctx.Reduce<int64_t>({*src}, r).ok());
  ASSERT_TRUE(ctx.Write(*src, dir.File("out.tif")).ok());
  const absl::Status st = ctx.Run();
  ASSERT_FALSE(st.ok());
  RecordStatus(st);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(st.message()), HasSubstr("reduce 'fragile'"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("failed on tile 5 ("));
  EXPECT_THAT(std::string(st.message()), HasSubstr("histogram bin 300"));
  EXPECT_TRUE(dir.List().empty());
  EXPECT_EQ(LiveBytesProbe(ctx), 1);
  ASSERT_TRUE(ctx.Write(*src, dir.File("out.tif")).ok());
  ASSERT_TRUE(ctx.Run().ok());
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("out.tif")), input));
}

// A Map without a function is refused when it is added, and nothing runs.
TEST(FilterFaultTest, MapWithoutAFunctionIsRejectedBeforeAnythingRuns) {
  absl::StatusOr<std::unique_ptr<Context>> made = Context::Create({});
  ASSERT_TRUE(made.ok());
  absl::StatusOr<Image> src = (*made)->CreateConstant(MakeProfile(1, PixelType::kU8));
  ASSERT_TRUE(src.ok());
  MapFilter f;
  f.name = "nofn";
  const absl::StatusOr<std::vector<Image>> out = (*made)->Map({*src}, f);
  ASSERT_FALSE(out.ok());
  RecordStatus(out.status());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("filter 'nofn': no filter function set"));
  EXPECT_TRUE((*made)->Run().ok());
}

}  // namespace
}  // namespace eoscale
