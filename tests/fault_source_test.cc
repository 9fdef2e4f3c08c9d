// Fault injection: a source that fails in the middle of a run. The file is
// opened (Context::Open reads its header), then truncated or deleted, during
// or before Run(): reads borrow GDAL handles from a pool, reopen the file
// when they need another handle, and stat it on the first read and once a
// second, so the failure is met where it happens (a truncation mid-run,
// after some tiles went all the way through). The contract: a clear error naming the file, no
// output (and a file already under the output's name keeps its bytes), every
// tile freed.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <fstream>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"
#include "fault_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::FileBytes;
using ::eoscale::testing::LiveBytesProbe;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::RecordStatus;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WriteTiff;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// 1024 tiles of 32 x 32, stored as 32 x 32 blocks. The budget lets about a
// hundred tiles in at a time, so tiles enter in raster order and the first
// ones are through before the reads reach the truncated half of the file.
constexpr int kSize = 1024, kTile = 32;
constexpr int64_t kBudget = int64_t{2} << 20;  // 1 MiB of GDAL cache, 1 MiB of tiles

Profile MakeProfile() {
  Profile p;
  p.width = p.height = kSize;
  p.bands = 2;
  p.type = PixelType::kU16;
  return p;
}

struct Graph {
  std::unique_ptr<Context> ctx;
  std::atomic<int> tiles_copied{0};
  Image copied;
  // Called once, by the copy of the tile that makes `after_tiles` copied.
  int after_tiles = -1;
  std::function<void()> mid_run;
};

// in -> copy (counting tiles) -> write out.
absl::Status BuildCopy(Graph& g, int workers, const std::string& in, const std::string& out) {
  ContextOptions o;
  o.workers = workers;
  o.tiling.tile_size = kTile;
  o.memory_budget_bytes = kBudget;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  if (!ctx.ok()) return ctx.status();
  g.ctx = *std::move(ctx);
  absl::StatusOr<Image> src = g.ctx->Open(in);
  if (!src.ok()) return src.status();
  MapFilter copy;
  copy.name = "copy";
  copy.fn = [&g](const MapTile& t) -> absl::Status {
    CopyPixels(t.inputs[0].Sub(t.tile.window), t.outputs[0]);
    if (++g.tiles_copied == g.after_tiles && g.mid_run) g.mid_run();
    return absl::OkStatus();
  };
  absl::StatusOr<std::vector<Image>> m = g.ctx->Map({*src}, copy);
  if (!m.ok()) return m.status();
  g.copied = (*m)[0];
  return g.ctx->Write(g.copied, out);
}

class SourceFaultTest : public ::testing::TestWithParam<int /*workers*/> {};

TEST_P(SourceFaultTest, FileTruncatedDuringTheRunFailsNamingTheFileAndWritesNothing) {
  TempDir dir;
  const std::string in = dir.File("in.tif"), out = dir.File("out.tif");
  WriteTiff(RandomArray(MakeProfile(), 21), in, kTile);
  WriteTiff(RandomArray(MakeProfile(), 22), out, kTile);  // a previous result
  const std::string out_before = FileBytes(out);
  Graph g;
  ASSERT_TRUE(BuildCopy(g, GetParam(), in, out).ok());
  struct stat st;
  ASSERT_EQ(::stat(in.c_str(), &st), 0);
  g.after_tiles = 16;  // the second half of the tiles is gone, mid-run
  g.mid_run = [&] { ASSERT_EQ(::truncate(in.c_str(), st.st_size / 2), 0); };

  const absl::Status s = g.ctx->Run();
  ASSERT_FALSE(s.ok());
  RecordStatus(s);
  EXPECT_THAT(s.code(), AnyOf(absl::StatusCode::kDataLoss, absl::StatusCode::kUnavailable)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("'", in, "'")));
  EXPECT_THAT(std::string(s.message()), HasSubstr("source 'read in.tif' (node 0) failed on tile "));
  EXPECT_GT(g.tiles_copied.load(), 0) << "the failure was meant to happen mid-run";
  EXPECT_LT(g.tiles_copied.load(), kSize / kTile * kSize / kTile);
  EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif", "out.tif"));
  EXPECT_EQ(FileBytes(out), out_before);
  EXPECT_EQ(LiveBytesProbe(*g.ctx), 1);
}

// Deleted after Open: the handle Open made would still read (POSIX keeps
// the inode), but the first read stats the file and finds it gone (and a
// reader opening a handle of its own finds no file). Failing is the rule; a
// run that completed would have read every pixel of the old file.
TEST_P(SourceFaultTest, FileDeletedAfterOpenFailsNamingTheFile) {
  TempDir dir;
  const std::string in = dir.File("in.tif"), out = dir.File("out.tif");
  const Array input = RandomArray(MakeProfile(), 23);
  WriteTiff(input, in, kTile);
  Graph g;
  ASSERT_TRUE(BuildCopy(g, GetParam(), in, out).ok());
  ASSERT_EQ(::unlink(in.c_str()), 0);
  const absl::Status s = g.ctx->Run();
  ASSERT_FALSE(s.ok());
  RecordStatus(s);
  EXPECT_THAT(s.code(), AnyOf(absl::StatusCode::kDataLoss, absl::StatusCode::kUnavailable)) << s;
  EXPECT_THAT(std::string(s.message()),
              AnyOf(HasSubstr(absl::StrCat("'", in, "' changed since it was opened (it no longer exists)")),
                    HasSubstr(absl::StrCat("cannot reopen '", in, "': the file no longer exists"))));
  EXPECT_TRUE(dir.List().empty());
  EXPECT_EQ(LiveBytesProbe(*g.ctx), 1);
}

INSTANTIATE_TEST_SUITE_P(Workers, SourceFaultTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return absl::StrCat("W", info.param); });

// A source that fails on its very first read (the file emptied): nothing at
// all is produced, and the same context runs the file once it is back.
TEST(SourceFaultTest, FileEmptiedAfterOpenFailsBeforeAnyTileAndTheContextRunsItReopened) {
  TempDir dir;
  const std::string in = dir.File("in.tif"), out = dir.File("out.tif");
  const Array input = RandomArray(MakeProfile(), 24);
  WriteTiff(input, in, kTile);
  const std::string bytes = FileBytes(in);
  Graph g;
  ASSERT_TRUE(BuildCopy(g, 2, in, out).ok());
  ASSERT_EQ(::truncate(in.c_str(), 0), 0);
  const absl::Status s = g.ctx->Run();
  ASSERT_FALSE(s.ok());
  RecordStatus(s);
  EXPECT_THAT(std::string(s.message()), HasSubstr(in));
  EXPECT_EQ(g.tiles_copied.load(), 0);
  EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif"));
  EXPECT_EQ(LiveBytesProbe(*g.ctx), 1);

  // The file is back: opened again (the failed source's GDAL handles saw an
  // empty file and stay failed), it runs through the same context.
  std::ofstream(in, std::ios::binary | std::ios::trunc) << bytes;
  absl::StatusOr<Image> reopened = g.ctx->Open(in);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_TRUE(g.ctx->Write(*reopened, out).ok());
  const absl::Status again = g.ctx->Run();
  ASSERT_TRUE(again.ok()) << again;
  EXPECT_TRUE(SameBytes(ReadTiff(out), input));
  EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif", "out.tif"));
}

}  // namespace
}  // namespace eoscale
