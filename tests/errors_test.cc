// Every error a user can meet: the right code, a message naming the thing at
// fault, nothing left behind, and a context that still works afterwards.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::RandomArray;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WriteTiff;
using ::testing::ContainsRegex;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

std::unique_ptr<Context> MakeContext(ContextOptions o = {}) {
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(std::move(o));
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? *std::move(ctx) : nullptr;
}

Profile MakeProfile(int w, int h, int bands = 1, PixelType type = PixelType::kF32) {
  Profile p;
  p.width = w;
  p.height = h;
  p.bands = bands;
  p.type = type;
  return p;
}

MapFilter Copy(std::string name = "copy", int margin = 0) {
  MapFilter f;
  f.name = std::move(name);
  f.margin = margin;
  f.fn = [](const MapTile& t) -> absl::Status {
    CopyPixels(t.inputs[0].Sub(t.tile.window), t.outputs[0]);
    return absl::OkStatus();
  };
  return f;
}

ReduceFilter<int64_t> CountPixels(std::string name = "count") {
  ReduceFilter<int64_t> r;
  r.name = std::move(name);
  r.map = [](const ReduceTile& t) -> absl::StatusOr<int64_t> { return t.tile.window.Pixels(); };
  r.combine = [](int64_t a, int64_t b) { return a + b; };
  return r;
}

// ----- Opening files --------------------------------------------------------

TEST(ErrorsTest, MissingFileIsNotFoundAndNamesThePath) {
  auto ctx = MakeContext();
  TempDir dir;
  const std::string path = dir.File("nope.tif");
  absl::StatusOr<Image> img = ctx->Open(path);
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Msg(img.status()), HasSubstr(path));
  absl::StatusOr<Image> in_missing_dir = ctx->Open(dir.File("no_such_dir/x.tif"));
  ASSERT_FALSE(in_missing_dir.ok());
  EXPECT_EQ(in_missing_dir.status().code(), absl::StatusCode::kNotFound);
}

TEST(ErrorsTest, UnreadableFileIsPermissionDenied) {
  TempDir dir;
  const std::string path = dir.File("secret.tif");
  WriteTiff(RandomArray(MakeProfile(8, 8), 1), path);
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  if (::access(path.c_str(), R_OK) == 0) GTEST_SKIP() << "running as root: a mode-000 file is still readable";
  auto ctx = MakeContext();
  absl::StatusOr<Image> img = ctx->Open(path);
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Msg(img.status()), HasSubstr(path));
}

TEST(ErrorsTest, TextFileIsNotARaster) {
  TempDir dir;
  const std::string path = dir.File("notes.txt");
  std::ofstream(path) << "this is not a raster\n";
  auto ctx = MakeContext();
  absl::StatusOr<Image> img = ctx->Open(path);
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(img.status()), HasSubstr(path));
  EXPECT_THAT(Msg(img.status()), HasSubstr("not a raster"));
}

// A 102-byte NOAA NGS geoid grid whose header claims 1297371936 x 1297293399
// float32 pixels stored in rows: one block is 5.2 GB, which GDAL would
// allocate for any read (found by fuzz_open_raster as an out-of-memory).
constexpr unsigned char kHugeBlockGrid[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0x47, 0x44, 0x41, 0x4c, 0x5f, 0x53, 0x4b, 0x49, 0x50, 0x3d, 0x57, 0x4d, 0x53,
    0x20, 0x57, 0x4d, 0x54, 0x53, 0x20, 0x00, 0x00, 0x00, 0x01, 0x08, 0xb1, 0x87, 0x07, 0x00, 0x16, 0x00,
    0x06, 0x08, 0x00, 0x00, 0x01, 0x00, 0x8e, 0x23, 0x00, 0x0c, 0x00, 0x00, 0x01, 0x00, 0x76, 0x7f, 0x04,
    0x0c, 0x00, 0x00, 0x01, 0x00, 0x68, 0x29, 0x23, 0x57, 0x47, 0x53, 0x20, 0x38, 0x34, 0x20, 0x2f, 0x20,
    0x55, 0x54, 0x4d, 0x20, 0x7a, 0x6f, 0x6e, 0x65, 0x20, 0x33, 0x30, 0x4e, 0xc9, 0xc8, 0xc8, 0xc8, 0x01};

TEST(ErrorsTest, RasterWithGiganticBlocksIsRefusedAtOpen) {
  TempDir dir;
  const std::string path = dir.File("geoid.bin");
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(kHugeBlockGrid), sizeof(kHugeBlockGrid));
  auto ctx = MakeContext();
  absl::StatusOr<Image> img = ctx->Open(path);
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Msg(img.status()), HasSubstr(path));
  EXPECT_THAT(Msg(img.status()), HasSubstr("blocks of 1297371936 x 1 pixels (5189487744 bytes)"));
  EXPECT_THAT(Msg(img.status()), HasSubstr("512 MiB"));
}

TEST(ErrorsTest, FolderIsNotARaster) {
  TempDir dir;
  auto ctx = MakeContext();
  absl::StatusOr<Image> img = ctx->Open(dir.path());
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(img.status()), HasSubstr(dir.path()));
  EXPECT_THAT(Msg(img.status()), HasSubstr("folder"));
}

TEST(ErrorsTest, BandOutOfRangeNamesTheBandAndThePath) {
  TempDir dir;
  const std::string path = dir.File("three.tif");
  WriteTiff(RandomArray(MakeProfile(8, 8, 3), 2), path);
  auto ctx = MakeContext();
  for (int band : {4, 0, -1}) {
    SCOPED_TRACE(absl::StrCat("band ", band));
    absl::StatusOr<Image> img = ctx->Open(path, {1, band});
    ASSERT_FALSE(img.ok());
    EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(img.status()), HasSubstr(absl::StrCat("band ", band)));
    EXPECT_THAT(Msg(img.status()), HasSubstr(path));
  }
  EXPECT_TRUE(ctx->Open(path, {3}).ok());
}

// ----- Building the graph ---------------------------------------------------

TEST(ErrorsTest, MapInputsOfDifferentSizesAreRejected) {
  auto ctx = MakeContext();
  absl::StatusOr<Image> a = ctx->CreateConstant(MakeProfile(97, 61));
  absl::StatusOr<Image> b = ctx->CreateConstant(MakeProfile(97, 60));
  ASSERT_TRUE(a.ok() && b.ok());
  int calls = 0;
  MapFilter f = Copy("pairwise");
  f.fn = [&calls](const MapTile&) -> absl::Status {
    ++calls;
    return absl::OkStatus();
  };
  absl::StatusOr<std::vector<Image>> out = ctx->Map({*a, *b}, f);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(out.status()), HasSubstr("pairwise"));
  EXPECT_THAT(Msg(out.status()), HasSubstr("97x61"));
  EXPECT_THAT(Msg(out.status()), HasSubstr("97x60"));
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(ctx->Run().ok());  // nothing was added
  EXPECT_EQ(calls, 0);
}

TEST(ErrorsTest, ReduceInputsOfDifferentSizesAreRejected) {
  auto ctx = MakeContext();
  absl::StatusOr<Image> a = ctx->CreateConstant(MakeProfile(10, 20));
  absl::StatusOr<Image> b = ctx->CreateConstant(MakeProfile(20, 10));
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<Reduction<int64_t>> r = ctx->Reduce<int64_t>({*a, *b}, CountPixels("pixel_count"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(r.status()), HasSubstr("pixel_count"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("10x20"));
  EXPECT_THAT(Msg(r.status()), HasSubstr("20x10"));
}

TEST(ErrorsTest, NumOutputsDisagreeingWithProfilesIsASizeMismatch) {
  auto ctx = MakeContext();
  absl::StatusOr<Image> a = ctx->CreateConstant(MakeProfile(16, 16));
  ASSERT_TRUE(a.ok());
  MapFilter f = Copy("split");
  f.num_outputs = 2;  // but the profile function returns one profile
  f.profiles = [](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    return std::vector<Profile>{in[0]};
  };
  absl::StatusOr<std::vector<Image>> out = ctx->Map({*a}, f);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(out.status()), HasSubstr("size mismatch"));
  EXPECT_THAT(Msg(out.status()), HasSubstr("split"));
  // Without a profile function the outputs copy the inputs: one, not two.
  MapFilter g = Copy("split_default");
  g.num_outputs = 2;
  absl::StatusOr<std::vector<Image>> out2 = ctx->Map({*a}, g);
  ASSERT_FALSE(out2.ok());
  EXPECT_THAT(Msg(out2.status()), HasSubstr("size mismatch"));
}

TEST(ErrorsTest, OutputProfileOfAnotherSizeIsRejected) {
  auto ctx = MakeContext();
  absl::StatusOr<Image> a = ctx->CreateConstant(MakeProfile(16, 12));
  ASSERT_TRUE(a.ok());
  for (const auto& [dw, dh] : {std::pair{1, 0}, std::pair{0, -1}}) {
    MapFilter f = Copy("resize");
    f.profiles = [dw = dw, dh = dh](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
      Profile p = in[0];
      p.width += dw;
      p.height += dh;
      return std::vector<Profile>{in[0], p};
    };
    absl::StatusOr<std::vector<Image>> out = ctx->Map({*a}, f);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(out.status()), HasSubstr("resize"));
    EXPECT_THAT(Msg(out.status()), HasSubstr("output 1"));
  }
}

TEST(ErrorsTest, FailingOrEmptyProfileFunctionIsRejected) {
  auto ctx = MakeContext();
  absl::StatusOr<Image> a = ctx->CreateConstant(MakeProfile(16, 12));
  ASSERT_TRUE(a.ok());
  MapFilter f = Copy("picky");
  f.profiles = [](absl::Span<const Profile>) -> absl::StatusOr<std::vector<Profile>> {
    return absl::InvalidArgumentError("needs two bands");
  };
  absl::StatusOr<std::vector<Image>> out = ctx->Map({*a}, f);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(out.status()), HasSubstr("picky"));
  EXPECT_THAT(Msg(out.status()), HasSubstr("needs two bands"));
  MapFilter g = Copy("nothing");
  g.profiles = [](absl::Span<const Profile>) -> absl::StatusOr<std::vector<Profile>> {
    return std::vector<Profile>{};
  };
  absl::StatusOr<std::vector<Image>> out2 = ctx->Map({*a}, g);
  ASSERT_FALSE(out2.ok());
  EXPECT_THAT(Msg(out2.status()), HasSubstr("nothing"));
  MapFilter h = Copy("no_fn");
  h.fn = nullptr;
  EXPECT_FALSE(ctx->Map({*a}, h).ok());
  EXPECT_FALSE(ctx->Map({}, Copy("no_input")).ok());
}

TEST(ErrorsTest, NegativeMarginIsRejected) {
  auto ctx = MakeContext();
  absl::StatusOr<Image> a = ctx->CreateConstant(MakeProfile(16, 12));
  ASSERT_TRUE(a.ok());
  absl::StatusOr<std::vector<Image>> out = ctx->Map({*a}, Copy("blur", -1));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(out.status()), HasSubstr("blur"));
  EXPECT_THAT(Msg(out.status()), HasSubstr("margin"));
}

TEST(ErrorsTest, BadContextOptionsAreRejected) {
  for (int workers : {0, -3}) {
    ContextOptions o;
    o.workers = workers;
    absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
    ASSERT_FALSE(ctx.ok());
    EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(ctx.status()), HasSubstr("worker"));
  }
  ContextOptions neg_tile;
  neg_tile.tiling.tile_size = -1;
  EXPECT_EQ(Context::Create(neg_tile).status().code(), absl::StatusCode::kInvalidArgument);
  ContextOptions neg_budget;
  neg_budget.memory_budget_bytes = -1;
  EXPECT_EQ(Context::Create(neg_budget).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ErrorsTest, InvalidSourceProfilesAreRejected) {
  auto ctx = MakeContext();
  EXPECT_EQ(ctx->CreateConstant(MakeProfile(0, 5)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ctx->CreateConstant(MakeProfile(5, 5, 0)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ctx->Wrap(MakeProfile(5, 5), nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

// ----- Failures during a run ------------------------------------------------

constexpr int kW = 97, kH = 61, kTile = 16;  // 7 x 4 = 28 tiles
constexpr int kTiles = 28;

class FilterFaultTest : public ::testing::TestWithParam<std::tuple<bool, int>> {};

TEST_P(FilterFaultTest, RunFailsNamingFilterAndTileAndLeavesNothingBehind) {
  const bool throws = std::get<0>(GetParam());
  const int bad = std::get<1>(GetParam());
  TempDir dir;
  const Array a = RandomArray(MakeProfile(kW, kH), 3);
  const std::string in = dir.File("in.tif");
  WriteTiff(a, in, 16);
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = kTile;
  auto ctx = MakeContext(o);
  ASSERT_NE(ctx, nullptr);
  absl::StatusOr<Image> src = ctx->Open(in);
  ASSERT_TRUE(src.ok());
  MapFilter f = Copy("faulty", 1);
  f.fn = [bad, throws](const MapTile& t) -> absl::Status {
    if (t.tile.index == bad) {
      if (throws) throw std::runtime_error("kaboom");
      return absl::DataLossError("sensor glitch");
    }
    CopyPixels(t.inputs[0].Sub(t.tile.window), t.outputs[0]);
    return absl::OkStatus();
  };
  absl::StatusOr<std::vector<Image>> out = ctx->Map({*src}, f);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(ctx->Write((*out)[0], dir.File("out.tif")).ok());
  absl::StatusOr<Reduction<int64_t>> red = ctx->Reduce<int64_t>({(*out)[0]}, CountPixels());
  ASSERT_TRUE(red.ok());

  const absl::Status st = ctx->Run();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), throws ? absl::StatusCode::kInternal : absl::StatusCode::kDataLoss) << st;
  EXPECT_THAT(Msg(st), HasSubstr("faulty"));
  EXPECT_THAT(Msg(st), ContainsRegex(absl::StrCat("tile ", bad, "([^0-9]|$)")));
  EXPECT_THAT(Msg(st), HasSubstr(throws ? "kaboom" : "sensor glitch"));
  EXPECT_THAT(dir.List(), ElementsAre("in.tif"));
  // The reduction did not complete: asking for it reruns and fails again.
  absl::StatusOr<int64_t> v = red->Get();
  EXPECT_FALSE(v.ok());

  // The same context runs another graph correctly.
  absl::StatusOr<std::vector<Image>> good = ctx->Map({*src}, Copy("good", 2));
  ASSERT_TRUE(good.ok());
  ASSERT_TRUE(ctx->Write((*good)[0], dir.File("out.tif")).ok());
  absl::StatusOr<Reduction<int64_t>> count = ctx->Reduce<int64_t>({(*good)[0]}, CountPixels());
  ASSERT_TRUE(count.ok());
  const absl::Status st2 = ctx->Run();
  ASSERT_TRUE(st2.ok()) << st2;
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("out.tif")), a));
  absl::StatusOr<int64_t> n = count->Get();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, int64_t{kW} * kH);
  EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif", "out.tif"));
}

INSTANTIATE_TEST_SUITE_P(FirstMiddleLast, FilterFaultTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(0, kTiles / 2, kTiles - 1)),
                         [](const auto& info) {
                           return absl::StrCat(std::get<0>(info.param) ? "Throws" : "ReturnsError", "OnTile",
                                               std::get<1>(info.param));
                         });

TEST(ErrorsTest, ReduceThatFailsNamesTheReduceAndTile) {
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = kTile;
  auto ctx = MakeContext(o);
  absl::StatusOr<Image> src = ctx->CreateConstant(MakeProfile(kW, kH));
  ASSERT_TRUE(src.ok());
  ReduceFilter<int64_t> r = CountPixels("histogram");
  r.map = [](const ReduceTile& t) -> absl::StatusOr<int64_t> {
    if (t.tile.index == kTiles - 1) return absl::OutOfRangeError("bin overflow");
    return t.tile.window.Pixels();
  };
  absl::StatusOr<Reduction<int64_t>> red = ctx->Reduce<int64_t>({*src}, r);
  ASSERT_TRUE(red.ok());
  absl::StatusOr<int64_t> v = red->Get();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(Msg(v.status()), HasSubstr("histogram"));
  EXPECT_THAT(Msg(v.status()), ContainsRegex(absl::StrCat("tile ", kTiles - 1, "([^0-9]|$)")));
  EXPECT_THAT(Msg(v.status()), HasSubstr("bin overflow"));
}

TEST(ErrorsTest, ReadingAnInputAsTheWrongTypeFailsNamingTheFilter) {
  auto ctx = MakeContext();
  absl::StatusOr<Image> src = ctx->CreateConstant(MakeProfile(20, 20, 1, PixelType::kU8));
  ASSERT_TRUE(src.ok());
  MapFilter f = Copy("typo");
  f.fn = [](const MapTile& t) -> absl::Status {
    (void)t.inputs[0].As<float>();
    return absl::OkStatus();
  };
  absl::StatusOr<std::vector<Image>> out = ctx->Map({*src}, f);
  ASSERT_TRUE(out.ok());
  absl::StatusOr<Array> got = ctx->ReadAll((*out)[0]);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(Msg(got.status()), HasSubstr("typo"));
  EXPECT_THAT(Msg(got.status()), HasSubstr("tile "));
  EXPECT_THAT(Msg(got.status()), HasSubstr("u8"));
}

// ----- Output paths ---------------------------------------------------------

TEST(ErrorsTest, OutputInAMissingFolderFailsAtWrite) {
  TempDir dir;
  auto ctx = MakeContext();
  absl::StatusOr<Image> src = ctx->CreateConstant(MakeProfile(8, 8));
  ASSERT_TRUE(src.ok());
  const std::string path = dir.File("missing/out.tif");
  const absl::Status st = ctx->Write(*src, path);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Msg(st), HasSubstr(path));
  EXPECT_TRUE(ctx->Run().ok());  // the failed Write added nothing
  EXPECT_TRUE(dir.List().empty());
}

TEST(ErrorsTest, OutputPathThatIsAFolderFailsAtWrite) {
  TempDir dir;
  auto ctx = MakeContext();
  absl::StatusOr<Image> src = ctx->CreateConstant(MakeProfile(8, 8));
  ASSERT_TRUE(src.ok());
  const absl::Status st = ctx->Write(*src, dir.path());
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(Msg(st), HasSubstr(dir.path()));
}

TEST(ErrorsTest, OutputInAReadOnlyFolderFailsAtWrite) {
  TempDir dir;
  const std::string ro = dir.File("ro");
  ASSERT_EQ(::mkdir(ro.c_str(), 0555), 0);
  ASSERT_EQ(::chmod(ro.c_str(), 0555), 0);
  if (::access(ro.c_str(), W_OK) == 0) {
    ::chmod(ro.c_str(), 0755);
    GTEST_SKIP() << "running as root: a read-only folder is still writable";
  }
  auto ctx = MakeContext();
  absl::StatusOr<Image> src = ctx->CreateConstant(MakeProfile(8, 8));
  ASSERT_TRUE(src.ok());
  const std::string path = ro + "/out.tif";
  const absl::Status st = ctx->Write(*src, path);
  ::chmod(ro.c_str(), 0755);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Msg(st), HasSubstr(path));
}

// ----- Handles --------------------------------------------------------------

TEST(ErrorsTest, ReleasedImageCannotBeUsed) {
  TempDir dir;
  auto ctx = MakeContext();
  const Array a = RandomArray(MakeProfile(20, 10), 4);
  Array copy(a.profile());
  std::memcpy(copy.mutable_data(), a.data(), a.bytes());
  absl::StatusOr<Image> src = ctx->FromArray(std::move(copy));
  ASSERT_TRUE(src.ok());
  absl::StatusOr<std::vector<Image>> mapped = ctx->Map({*src}, Copy("keep", 1));
  ASSERT_TRUE(mapped.ok());
  ASSERT_TRUE(ctx->Release(*src).ok());

  auto expect_released = [](const absl::Status& s, const char* what) {
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << what << ": " << s;
    EXPECT_THAT(Msg(s), HasSubstr("released")) << what;
  };
  expect_released(ctx->Map({*src}, Copy()).status(), "Map");
  expect_released(ctx->Write(*src, dir.File("x.tif")), "Write");
  expect_released(ctx->ReadAll(*src).status(), "ReadAll");
  expect_released(src->profile().status(), "profile");
  expect_released(ctx->Reduce<int64_t>({*src}, CountPixels()).status(), "Reduce");
  expect_released(ctx->Release(*src), "Release");
  EXPECT_TRUE(dir.List().empty());

  // What was built on it before the release still reads the data.
  absl::StatusOr<Array> kept = ctx->ReadAll((*mapped)[0]);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(SameBytes(*kept, a));

  // A released Map output.
  ASSERT_TRUE(ctx->Release((*mapped)[0]).ok());
  expect_released(ctx->ReadAll((*mapped)[0]).status(), "ReadAll of a released Map output");
  expect_released(ctx->Map({(*mapped)[0]}, Copy()).status(), "Map of a released Map output");
}

TEST(ErrorsTest, HandlesOutlivingTheirContextGiveErrorsNotCrashes) {
  Image img;
  Image mapped;
  Reduction<int64_t> red;
  {
    auto ctx = MakeContext();
    absl::StatusOr<Image> src = ctx->CreateConstant(MakeProfile(8, 8));
    ASSERT_TRUE(src.ok());
    img = *src;
    absl::StatusOr<std::vector<Image>> m = ctx->Map({img}, Copy());
    ASSERT_TRUE(m.ok());
    mapped = (*m)[0];
    absl::StatusOr<Reduction<int64_t>> r = ctx->Reduce<int64_t>({img}, CountPixels());
    ASSERT_TRUE(r.ok());
    red = *r;
  }
  absl::StatusOr<Profile> p = img.profile();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Msg(p.status()), HasSubstr("context"));
  EXPECT_FALSE(mapped.profile().ok());
  absl::StatusOr<int64_t> v = red.Get();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Msg(v.status()), HasSubstr("context"));
  (void)img.name();  // must not crash

  // Handed to another context: an error, not a crash.
  TempDir dir;
  auto other = MakeContext();
  EXPECT_FALSE(other->Map({img}, Copy()).ok());
  EXPECT_FALSE(other->Write(img, dir.File("x.tif")).ok());
  EXPECT_FALSE(other->ReadAll(mapped).ok());
  EXPECT_FALSE(other->Release(img).ok());
  EXPECT_FALSE(other->Reduce<int64_t>({img}, CountPixels()).ok());
  EXPECT_TRUE(dir.List().empty());
}

TEST(ErrorsTest, ImageOfAnotherLiveContextIsRejected) {
  auto a = MakeContext();
  auto b = MakeContext();
  absl::StatusOr<Image> img = a->CreateConstant(MakeProfile(8, 8));
  ASSERT_TRUE(img.ok());
  absl::StatusOr<std::vector<Image>> m = b->Map({*img}, Copy());
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(Msg(m.status()), HasSubstr("another context"));
  EXPECT_FALSE(b->ReadAll(*img).ok());
  EXPECT_FALSE(Image().profile().ok());  // an empty handle
  EXPECT_FALSE(a->ReadAll(Image()).ok());
}

// ----- Budget and cancellation ----------------------------------------------

TEST(ErrorsTest, BudgetSmallerThanOneTileFailsAndWritesNothing) {
  TempDir dir;
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 512;
  o.memory_budget_bytes = 1 << 20;  // the GDAL cache part alone takes it all
  auto ctx = MakeContext(o);
  absl::StatusOr<Image> src = ctx->CreateConstant(MakeProfile(512, 512, 2, PixelType::kF64));
  ASSERT_TRUE(src.ok());
  absl::StatusOr<std::vector<Image>> m = ctx->Map({*src}, Copy("big", 1));
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(ctx->Write((*m)[0], dir.File("out.tif")).ok());
  const absl::Status st = ctx->Run();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Msg(st), HasSubstr("too small"));
  EXPECT_TRUE(dir.List().empty());
}

TEST(ErrorsTest, ProgressCallbackReturningFalseCancelsTheRun) {
  for (bool at_the_end : {false, true}) {
    SCOPED_TRACE(at_the_end ? "cancelled on the last task" : "cancelled early");
    TempDir dir;
    std::atomic<int> calls{0};
    std::atomic<bool> consistent{true};
    ContextOptions o;
    o.workers = 2;
    o.tiling.tile_size = 16;
    o.progress = [&](const Progress& p) {
      ++calls;
      if (p.tiles_total <= 0 || p.tiles_done < 1 || p.tiles_done > p.tiles_total || p.node.empty()) {
        consistent = false;
      }
      return at_the_end ? p.tiles_done < p.tiles_total : p.tiles_done < 5;
    };
    auto ctx = MakeContext(o);
    absl::StatusOr<Image> src = ctx->CreateConstant(MakeProfile(97, 61));
    ASSERT_TRUE(src.ok());
    absl::StatusOr<std::vector<Image>> m = ctx->Map({*src}, Copy("slow", 1));
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE(ctx->Write((*m)[0], dir.File("out.tif")).ok());
    const absl::Status st = ctx->Run();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
    EXPECT_TRUE(dir.List().empty());
    EXPECT_GE(calls.load(), 5);
    EXPECT_TRUE(consistent.load());
  }
}

TEST(ErrorsTest, ProgressReachesTheTotalOnSuccess) {
  std::atomic<int64_t> last_done{0}, total{0};
  std::atomic<int> calls{0};
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 16;
  o.progress = [&](const Progress& p) {
    ++calls;
    last_done = std::max<int64_t>(last_done, p.tiles_done);
    total = p.tiles_total;
    return true;
  };
  auto ctx = MakeContext(o);
  absl::StatusOr<Image> src = ctx->CreateConstant(MakeProfile(97, 61));
  ASSERT_TRUE(src.ok());
  absl::StatusOr<std::vector<Image>> m = ctx->Map({*src}, Copy("step", 1));
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(ctx->ReadAll((*m)[0]).ok());
  EXPECT_GT(total.load(), 0);
  EXPECT_EQ(last_done.load(), total.load());
  EXPECT_EQ(calls.load(), total.load());
}

// Release frees an in-memory source "once nothing pending reads it": a
// pending Write reads it.
TEST(ErrorsTest, ReleasedSourceIsStillWrittenByAPendingWrite) {
  TempDir dir;
  auto ctx = MakeContext();
  const Array a = RandomArray(MakeProfile(20, 10), 5);
  Array copy(a.profile());
  std::memcpy(copy.mutable_data(), a.data(), a.bytes());
  absl::StatusOr<Image> src = ctx->FromArray(std::move(copy));
  ASSERT_TRUE(src.ok());
  ASSERT_TRUE(ctx->Write(*src, dir.File("out.tif")).ok());
  ASSERT_TRUE(ctx->Release(*src).ok());
  const absl::Status st = ctx->Run();
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("out.tif")), a));
}

TEST(ErrorsTest, ReleasedMapOutputIsStillWrittenByAPendingWrite) {
  TempDir dir;
  auto ctx = MakeContext();
  const Array a = RandomArray(MakeProfile(20, 10), 6);
  Array copy(a.profile());
  std::memcpy(copy.mutable_data(), a.data(), a.bytes());
  absl::StatusOr<Image> src = ctx->FromArray(std::move(copy));
  ASSERT_TRUE(src.ok());
  absl::StatusOr<std::vector<Image>> m = ctx->Map({*src}, Copy("copy", 1));
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(ctx->Write((*m)[0], dir.File("out.tif")).ok());
  ASSERT_TRUE(ctx->Release((*m)[0]).ok());
  ASSERT_TRUE(ctx->Release(*src).ok());
  const absl::Status st = ctx->Run();
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("out.tif")), a));
}

// A failure while streaming the second image size leaves no file of the
// first one either ("on error, nothing is left under the requested names").
TEST(ErrorsTest, FailureInOneImageSizeLeavesNoOutputOfAnother) {
  TempDir dir;
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 16;
  auto ctx = MakeContext(o);
  absl::StatusOr<Image> big = ctx->CreateConstant(MakeProfile(64, 64), 1.0);
  absl::StatusOr<Image> small = ctx->CreateConstant(MakeProfile(20, 20), 2.0);
  ASSERT_TRUE(big.ok() && small.ok());
  MapFilter bad = Copy("bad_small");
  bad.fn = [](const MapTile& t) -> absl::Status {
    if (t.tile.index == 1) return absl::InternalError("nope");
    CopyPixels(t.inputs[0].Sub(t.tile.window), t.outputs[0]);
    return absl::OkStatus();
  };
  absl::StatusOr<std::vector<Image>> sm = ctx->Map({*small}, bad);
  ASSERT_TRUE(sm.ok());
  // Either order of the two writes: the good one must not survive.
  for (bool good_first : {true, false}) {
    SCOPED_TRACE(good_first ? "good write first" : "good write last");
    if (good_first) {
      ASSERT_TRUE(ctx->Write(*big, dir.File("good.tif")).ok());
    }
    ASSERT_TRUE(ctx->Write((*sm)[0], dir.File("bad.tif")).ok());
    if (!good_first) {
      ASSERT_TRUE(ctx->Write(*big, dir.File("good.tif")).ok());
    }
    const absl::Status st = ctx->Run();
    ASSERT_FALSE(st.ok());
    EXPECT_THAT(Msg(st), HasSubstr("bad_small"));
    EXPECT_TRUE(dir.List().empty());
  }
}

// Progress counts "tile tasks of this run, all nodes": with two image sizes
// in one run, the total covers both and the count reaches it once.
TEST(ErrorsTest, ProgressTotalsCoverTheWholeRunAcrossImageSizes) {
  TempDir dir;
  std::vector<Progress> seen;
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 16;
  o.progress = [&seen](const Progress& p) {
    seen.push_back(p);  // one call at a time
    return true;
  };
  auto ctx = MakeContext(o);
  absl::StatusOr<Image> a = ctx->CreateConstant(MakeProfile(64, 64), 1.0);
  absl::StatusOr<Image> b = ctx->CreateConstant(MakeProfile(20, 20), 2.0);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(ctx->Write(*a, dir.File("a.tif")).ok());
  ASSERT_TRUE(ctx->Write(*b, dir.File("b.tif")).ok());
  ASSERT_TRUE(ctx->Run().ok());
  ASSERT_FALSE(seen.empty());
  const int64_t total = seen.front().tiles_total;
  for (size_t i = 0; i < seen.size(); ++i) {
    ASSERT_TRUE(seen[i].tiles_total == total && seen[i].tiles_done == static_cast<int64_t>(i) + 1)
        << "call " << i << " of " << seen.size() << " reports " << seen[i].tiles_done << " of "
        << seen[i].tiles_total << " tile tasks; the first call said the total is " << total;
  }
  EXPECT_EQ(seen.back().tiles_done, total);
  EXPECT_EQ(static_cast<int64_t>(seen.size()), ctx->last_run_stats().tasks);
}

}  // namespace
}  // namespace eoscale
