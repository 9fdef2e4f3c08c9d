// User code and user mistakes the engine must survive with a clear error:
// callbacks that throw (progress, profile function, combine), a filter that
// writes past its output, inputs on different grids, an image too large for
// memory, and writes requested but never run.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "absl/status/status.h"
#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::TempDir;
using ::testing::HasSubstr;

Profile Grid(int w, int h, double x0 = 500000.0, double px = 10.0, std::string crs = "") {
  Profile p;
  p.width = w;
  p.height = h;
  p.type = PixelType::kU8;
  p.geotransform = {x0, px, 0.0, 4000000.0, 0.0, -px};
  p.crs_wkt = std::move(crs);
  return p;
}

MapFilter Copy(int overrun_rows = 0) {
  MapFilter f;
  f.name = "copy";
  f.fn = [overrun_rows](const MapTile& t) {
    auto in = t.inputs[0].As<uint8_t>();
    auto out = t.outputs[0].As<uint8_t>();
    for (int y = 0; y < out.rows() + overrun_rows; ++y) {
      for (int x = 0; x < out.cols(); ++x) out.Row(0, y)[x] = in(0, std::min(y, in.rows() - 1), x);
    }
    return absl::OkStatus();
  };
  return f;
}

TEST(UserCodeFaultTest, ProgressCallbackThatThrowsFailsTheRunAndReturns) {
  TempDir dir;
  ContextOptions o;
  o.tiling.tile_size = 16;
  o.progress = [](const Progress& p) -> bool {
    if (p.tiles_done == 3) throw std::runtime_error("bar broke");
    return true;
  };
  auto ctx = Context::Create(o);
  auto src = (*ctx)->CreateConstant(Grid(64, 64), 1);
  auto out = (*ctx)->Map({*src}, Copy());
  ASSERT_TRUE((*ctx)->Write((*out)[0], dir.File("out.tif")).ok());
  absl::Status s = (*ctx)->Run();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), HasSubstr("the progress callback threw an exception: bar broke"));
  EXPECT_TRUE(dir.List().empty());
}

TEST(UserCodeFaultTest, ProfileFunctionThatThrowsIsAnErrorNamingTheFilter) {
  auto ctx = Context::Create({});
  auto src = (*ctx)->CreateConstant(Grid(8, 8), 1);
  MapFilter f = Copy();
  f.name = "ndwi";
  f.profiles = [](absl::Span<const Profile>) -> absl::StatusOr<std::vector<Profile>> {
    throw std::invalid_argument("needs 4 bands");
  };
  auto out = (*ctx)->Map({*src}, f);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("filter 'ndwi': output profile function failed: threw an exception: needs 4 bands"));
}

TEST(UserCodeFaultTest, CombineThatThrowsFailsTheReductionNamingIt) {
  auto ctx = Context::Create({.tiling = {.tile_size = 4}});
  auto src = (*ctx)->CreateConstant(Grid(16, 16), 1);
  auto r = (*ctx)->Reduce<int>({*src}, ReduceFilter<int>{
      "histogram", [](const ReduceTile&) -> absl::StatusOr<int> { return 1; },
      [](int a, int b) -> int {
        if (a + b > 5) throw std::overflow_error("bin overflow");
        return a + b;
      }});
  ASSERT_TRUE(r.ok());
  absl::StatusOr<int> v = r->Get();
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("reduce 'histogram'"));
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("combine threw an exception: bin overflow"));
}

class OverrunTest : public ::testing::TestWithParam<int> {};

TEST_P(OverrunTest, AFilterWritingPastItsOutputFailsNamingItAndLeavesNothing) {
  TempDir dir;
  auto ctx = Context::Create({.workers = 2, .tiling = {.tile_size = 32}});
  auto src = (*ctx)->CreateConstant(Grid(64, 64), 1);
  auto out = (*ctx)->Map({*src}, Copy(GetParam()));
  ASSERT_TRUE((*ctx)->Write((*out)[0], dir.File("out.tif")).ok());
  absl::Status s = (*ctx)->Run();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), HasSubstr("filter 'copy' (node 1) failed on tile"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("wrote past the end of output 0"));
  EXPECT_TRUE(dir.List().empty());
}

INSTANTIATE_TEST_SUITE_P(Rows, OverrunTest, ::testing::Values(1, 4));

TEST(MisalignedInputsTest, InputsOnAnotherGridAreRefusedNamingWhatDiffers) {
  auto ctx = Context::Create({});
  auto a = (*ctx)->CreateConstant(Grid(32, 32), 1);
  struct {
    Profile p;
    const char* what;
  } cases[] = {{Grid(32, 32, 500100.0), "origin"},
               {Grid(32, 32, 500000.0, 20.0), "pixel size"},
               {Grid(32, 32, 500000.0, 10.0, "EPSG:32631"), nullptr}};  // one CRS missing: same grid
  for (const auto& c : cases) {
    auto b = (*ctx)->CreateConstant(c.p, 2);
    auto m = (*ctx)->Map({*a, *b}, Copy());
    if (c.what == nullptr) {
      EXPECT_TRUE(m.ok()) << m.status();
      continue;
    }
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(m.status().message()), HasSubstr("inputs are not on the same grid"));
    EXPECT_THAT(std::string(m.status().message()), HasSubstr(c.what));
    MapFilter anyway = Copy();
    anyway.allow_misaligned_inputs = true;
    EXPECT_TRUE((*ctx)->Map({*a, *b}, anyway).ok());
  }
  auto c1 = (*ctx)->CreateConstant(Grid(32, 32, 500000.0, 10.0, "PROJCS[\"A\"]"), 1);
  auto c2 = (*ctx)->CreateConstant(Grid(32, 32, 500000.0, 10.0, "PROJCS[\"B\"]"), 1);
  auto m = (*ctx)->Reduce<int>({*c1, *c2}, ReduceFilter<int>{
      "count", [](const ReduceTile&) -> absl::StatusOr<int> { return 1; }, [](int a, int b) { return a + b; }});
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("CRS"));
}

TEST(MemoryFaultTest, ReadAllOfAnImageLargerThanMemoryIsResourceExhausted) {
  auto ctx = Context::Create({});
  Profile p = Grid(1000000, 1000000);
  p.type = PixelType::kF64;
  auto src = (*ctx)->CreateConstant(p, 0);
  absl::StatusOr<Array> a = (*ctx)->ReadAll(*src);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("cannot allocate 8000000000000 bytes"));
}

TEST(LifetimeTest, AContextDestroyedWithPendingWritesNamesThem) {
  TempDir dir;
  ::testing::internal::CaptureStderr();
  {
    auto ctx = Context::Create({});
    auto src = (*ctx)->CreateConstant(Grid(8, 8), 1);
    ASSERT_TRUE((*ctx)->Write(*src, dir.File("a.tif")).ok());
    ASSERT_TRUE((*ctx)->Write(*src, dir.File("b.tif")).ok());
    EXPECT_EQ((*ctx)->PendingOutputs().size(), 2u);
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("2 write(s) requested but never run (Run() was not called)"));
  EXPECT_THAT(err, HasSubstr(dir.File("a.tif")));
  EXPECT_THAT(err, HasSubstr(dir.File("b.tif")));
}

TEST(LifetimeTest, TwoWritesToOnePathAreRefused) {
  TempDir dir;
  auto ctx = Context::Create({});
  auto src = (*ctx)->CreateConstant(Grid(8, 8), 1);
  ASSERT_TRUE((*ctx)->Write(*src, dir.File("a.tif")).ok());
  absl::Status s = (*ctx)->Write(*src, dir.File("a.tif"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("is already an output of this run"));
}

TEST(NothingLostTest, AnOutputThatIsAnInputUnderAnySpellingIsRefusedAndTheInputKept) {
  TempDir dir;
  Array a = ::eoscale::testing::RandomArray(Grid(40, 30), 7);
  ::eoscale::testing::WriteTiff(a, dir.File("in.tif"));
  ASSERT_EQ(::symlink(dir.File("in.tif").c_str(), dir.File("link.tif").c_str()), 0);
  ASSERT_EQ(::link(dir.File("in.tif").c_str(), dir.File("hard.tif").c_str()), 0);
  ASSERT_EQ(::mkdir(dir.File("sub").c_str(), 0755), 0);
  for (const std::string& out : {dir.File("in.tif"), dir.File("sub/../in.tif"), dir.File("link.tif"),
                                 dir.File("hard.tif")}) {
    auto ctx = Context::Create({});
    auto in = (*ctx)->Open(dir.File("in.tif"));
    ASSERT_TRUE(in.ok());
    auto m = (*ctx)->Map({*in}, Copy());
    ASSERT_TRUE((*ctx)->Write((*m)[0], out).ok());
    absl::Status s = (*ctx)->Run();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << out;
    EXPECT_THAT(std::string(s.message()), HasSubstr("a run never writes one of its inputs")) << out;
    EXPECT_TRUE(::eoscale::testing::SameBytes(::eoscale::testing::ReadTiff(dir.File("in.tif")), a)) << out;
  }
}

TEST(NothingLostTest, AnInputRewrittenInPlaceDuringTheRunFailsItAndNothingIsCommitted) {
  TempDir dir;
  Array a = ::eoscale::testing::RandomArray(Grid(256, 256), 3);
  ::eoscale::testing::WriteTiff(a, dir.File("in.tif"), 32);
  ::eoscale::testing::WriteTiff(a, dir.File("out.tif"), 32);  // a previous output
  const Array previous = ::eoscale::testing::ReadTiff(dir.File("out.tif"));
  ContextOptions o;
  o.workers = 1;
  o.tiling.tile_size = 32;
  const std::string in = dir.File("in.tif");
  o.progress = [in](const Progress& p) {
    if (p.tiles_done == 10) {  // a colleague regenerates the input mid-run
      Array b = ::eoscale::testing::RandomArray(Grid(256, 256), 4);
      ::eoscale::testing::WriteTiff(b, in, 32);
    }
    return true;
  };
  auto ctx = Context::Create(o);
  auto src = (*ctx)->Open(in);
  ASSERT_TRUE(src.ok());
  auto m = (*ctx)->Map({*src}, Copy());
  ASSERT_TRUE((*ctx)->Write((*m)[0], dir.File("out.tif")).ok());
  absl::Status s = (*ctx)->Run();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("changed"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(in));
  EXPECT_TRUE(::eoscale::testing::SameBytes(::eoscale::testing::ReadTiff(dir.File("out.tif")), previous));
  EXPECT_EQ(dir.List().size(), 2u);  // in.tif and out.tif: no temporary left
}

}  // namespace
}  // namespace eoscale
