// WriteOptions::durable: a durable output (the default) is fsync'ed, and its
// folder after the commit; a non-durable one is left to the page cache (no
// fsync, no writeback started) and is otherwise the same: same pixels, the
// same all-or-nothing commit, a failed run leaves the previous file byte
// for byte.
//
// This executable defines fsync and sync_file_range itself: the engine's
// calls land here (the executable's symbols come first), are counted and
// forwarded to the kernel.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"
#include "fault_util.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace {
std::atomic<int> g_fsyncs{0};
std::atomic<int> g_writebacks{0};
}  // namespace

extern "C" int fsync(int fd) {
  g_fsyncs.fetch_add(1);
  return static_cast<int>(::syscall(SYS_fsync, fd));
}

extern "C" int sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags) {
  g_writebacks.fetch_add(1);
  return static_cast<int>(::syscall(SYS_sync_file_range, fd, offset, nbytes, flags));
}

namespace eoscale {
namespace {

using ::eoscale::testing::FingerprintOf;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;

Profile Image16(int side) {
  Profile p;
  p.width = side;
  p.height = side;
  p.bands = 1;
  p.type = PixelType::kU16;
  return p;
}

struct Counts {
  int fsyncs = 0;
  int writebacks = 0;
};

WriteOptions Durable(bool durable) {
  WriteOptions w;
  w.durable = durable;
  return w;
}

// Writes RandomArray(profile, seed) to `path` (durable or not) in one run;
// the calls made during it.
Counts WriteRun(const Profile& profile, uint64_t seed, const std::string& path, bool durable,
                absl::Status* status) {
  ContextOptions o;
  o.tiling.tile_size = 256;
  auto c = Context::Create(o);
  EXPECT_TRUE(c.ok()) << c.status();
  absl::StatusOr<Image> img = (*c)->FromArray(RandomArray(profile, seed));
  EXPECT_TRUE(img.ok()) << img.status();
  EXPECT_TRUE((*c)->Write(*img, path, Durable(durable)).ok());
  const int f0 = g_fsyncs.load(), w0 = g_writebacks.load();
  *status = (*c)->Run();
  return Counts{g_fsyncs.load() - f0, g_writebacks.load() - w0};
}

TEST(DurableOutputsTest, ADurableOutputIsSyncedWithItsFolder) {
  TempDir dir;
  absl::Status st;  // 8 MiB: writeback is started every MiB
  const Counts n = WriteRun(Image16(2048), 1, dir.File("out.tif"), /*durable=*/true, &st);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_GE(n.fsyncs, 2) << "the file and its folder";
  EXPECT_GE(n.writebacks, 1);
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("out.tif")), RandomArray(Image16(2048), 1)));
}

TEST(DurableOutputsTest, ANonDurableOutputIsNeitherSyncedNorWrittenBackAndHasTheSamePixels) {
  TempDir dir;
  absl::Status st;
  const Counts n = WriteRun(Image16(2048), 2, dir.File("out.tif"), /*durable=*/false, &st);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(n.fsyncs, 0);
  EXPECT_EQ(n.writebacks, 0);
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("out.tif")), RandomArray(Image16(2048), 2)));
  EXPECT_EQ(dir.List(), std::vector<std::string>{"out.tif"}) << "no temporary left";

  // Replacing it: the new pixels, still nothing beside it.
  const Counts m = WriteRun(Image16(2048), 3, dir.File("out.tif"), /*durable=*/false, &st);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(m.fsyncs, 0);
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("out.tif")), RandomArray(Image16(2048), 3)));
  EXPECT_EQ(dir.List(), std::vector<std::string>{"out.tif"});
}

TEST(DurableOutputsTest, AFailedNonDurableRunLeavesThePreviousFileByteForByte) {
  TempDir dir;
  const std::string out = dir.File("out.tif");
  absl::Status st;
  WriteRun(Image16(512), 4, out, /*durable=*/true, &st);
  ASSERT_TRUE(st.ok()) << st;
  const auto before = FingerprintOf(out);

  ContextOptions o;
  o.tiling.tile_size = 128;
  auto c = Context::Create(o);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<Image> img = (*c)->FromArray(RandomArray(Image16(512), 5));
  ASSERT_TRUE(img.ok()) << img.status();
  MapFilter fail;
  fail.name = "fails on the last tile";
  fail.fn = [](const MapTile& t) {
    if (t.tile.window.x == 384 && t.tile.window.y == 384) return absl::InternalError("the last tile fails");
    for (int y = 0; y < t.outputs[0].rows(); ++y) {
      for (int x = 0; x < t.outputs[0].cols(); ++x) t.outputs[0].As<uint16_t>().Row(0, y)[x] = 7;
    }
    return absl::OkStatus();
  };
  absl::StatusOr<std::vector<Image>> m = (*c)->Map({*img}, fail);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE((*c)->Write((*m)[0], out, Durable(false)).ok());
  st = (*c)->Run();
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(FingerprintOf(out), before);
  EXPECT_EQ(dir.List(), std::vector<std::string>{"out.tif"}) << "no temporary left";
}

}  // namespace
}  // namespace eoscale
