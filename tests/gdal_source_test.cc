// io::OpenRaster's source, below the engine: the files it names, what it
// checks when it reopens a file or is asked whether its files changed, the
// process's pool of GDAL handles, and its use of GDAL's block cache.
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fcntl.h>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/io/gdal_raster.h"
#include "eoscale/io/handle_pool.h"
#include "eoscale/io/raw_tiff.h"
#include "fault_util.h"
#include "gdal.h"
#include "gdal_utils.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::io::OpenRaster;
using ::eoscale::io::internal::HandlePool;
using ::eoscale::testing::FileBytes;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::RecordStatus;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WriteTiff;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

Profile MakeProfile(int size, int bands, PixelType type) {
  Profile p;
  p.width = p.height = size;
  p.bands = bands;
  p.type = type;
  return p;
}

std::unique_ptr<RasterSource> MustOpen(const std::string& path, std::vector<int> bands = {}) {
  absl::StatusOr<std::unique_ptr<RasterSource>> s = OpenRaster(path, std::move(bands));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

absl::Status ReadWindow(RasterSource& src, const Window& w, Array* out = nullptr) {
  Profile p = src.profile();
  p.width = w.width;
  p.height = w.height;
  Array a(p);
  View v = View::Contiguous(a.mutable_data(), p.type, p.bands, w);
  absl::Status s = src.Read(v);
  if (out != nullptr) *out = std::move(a);
  return s;
}

absl::Status ReadAllOf(RasterSource& src) {
  return ReadWindow(src, {0, 0, src.profile().width, src.profile().height});
}

// Replaces `path` by `bytes` in place (same inode), after a tick of the
// kernel's file clock so the modification time moves.
void RewriteInPlace(const std::string& path, const std::string& bytes) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
}

// A 2 x 1 mosaic VRT of two 64 x 64 GeoTIFFs tiled `block` (the second
// `block2` when given), as gdalbuildvrt makes it.
std::string BuildMosaic(const TempDir& dir, int block, std::vector<std::string>* tiles, int block2 = 0,
                        std::vector<Array>* arrays = nullptr) {
  for (int i = 0; i < 2; ++i) {
    Profile p = MakeProfile(64, 1, PixelType::kU16);
    p.geotransform = {100.0 + 64 * i, 1, 0, 500, 0, -1};
    const std::string t = dir.File(absl::StrCat("tile", i, ".tif"));
    Array a = RandomArray(p, 50 + i);
    WriteTiff(a, t, i == 1 && block2 > 0 ? block2 : block);
    tiles->push_back(t);
    if (arrays != nullptr) arrays->push_back(std::move(a));
  }
  return testing::GdalBuildVrt(dir.File("mosaic.vrt"), *tiles);
}

// --- files() -------------------------------------------------------------

TEST(GdalSourceTest, FilesOfAGeoTiffIsTheFile) {
  TempDir dir;
  const std::string in = dir.File("in.tif");
  WriteTiff(RandomArray(MakeProfile(32, 1, PixelType::kU8), 1), in, 16);
  std::unique_ptr<RasterSource> src = MustOpen(in);
  ASSERT_NE(src, nullptr);
  EXPECT_THAT(src->files(), ElementsAre(in));
}

TEST(GdalSourceTest, FilesOfAVrtListsTheFilesItRefersTo) {
  TempDir dir;
  std::vector<std::string> tiles;
  const std::string vrt = BuildMosaic(dir, 32, &tiles);
  std::unique_ptr<RasterSource> src = MustOpen(vrt);
  ASSERT_NE(src, nullptr);
  EXPECT_THAT(src->files(), UnorderedElementsAre(vrt, tiles[0], tiles[1]));
}

// --- block_width() / block_height() -----------------------------------------

TEST(GdalSourceTest, BlockSizeOfAGeoTiffIsItsTileSize) {
  TempDir dir;
  const std::string in = dir.File("in.tif");
  WriteTiff(RandomArray(MakeProfile(64, 1, PixelType::kU8), 1), in, 32);
  std::unique_ptr<RasterSource> src = MustOpen(in);
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->block_width(), 32);
  EXPECT_EQ(src->block_height(), 32);
}

// gdalbuildvrt gives the VRT's bands 128 x 128 blocks whatever its sources
// are stored in: the source reports theirs, and reads stay right.
TEST(GdalSourceTest, VrtMosaicReportsTheBlockSizeOfItsSources) {
  TempDir dir;
  std::vector<std::string> tiles;
  std::vector<Array> arrays;
  const std::string vrt = BuildMosaic(dir, 32, &tiles, 0, &arrays);
  GDALDatasetH h = GDALOpen(vrt.c_str(), GA_ReadOnly);
  ASSERT_NE(h, nullptr);
  int own_w = 0, own_h = 0;
  GDALGetBlockSize(GDALGetRasterBand(h, 1), &own_w, &own_h);
  GDALClose(h);
  EXPECT_EQ(own_w, 128) << "the VRT's own blocks (what block_width() used to report)";
  std::unique_ptr<RasterSource> src = MustOpen(vrt);
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->block_width(), 32);
  EXPECT_EQ(src->block_height(), 32);
  for (int y = 0; y < 64; y += 32) {
    for (int x = 0; x < 128; x += 32) {
      Array a;
      ASSERT_TRUE(ReadWindow(*src, {x, y, 32, 32}, &a).ok());
      const Array& tile = arrays[x / 64];
      for (int r = 0; r < 32; ++r) {
        for (int c = 0; c < 32; ++c) {
          ASSERT_EQ(a.Samples<uint16_t>()[r * 32 + c], tile.Samples<uint16_t>()[(y + r) * 64 + (x % 64) + c])
              << "x=" << x << " y=" << y;
        }
      }
    }
  }
}

// Sources in 32^2 and 16^2 blocks: tiles of whole 32^2 blocks hold whole
// blocks of both (the lcm; tests/tiling_default_test.cc has the rest).
TEST(GdalSourceTest, VrtWhoseSourcesDisagreeReportsTheirCommonMultiple) {
  TempDir dir;
  std::vector<std::string> tiles;
  const std::string vrt = BuildMosaic(dir, 32, &tiles, 16);
  std::unique_ptr<RasterSource> src = MustOpen(vrt);
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->block_width(), 32);
  EXPECT_EQ(src->block_height(), 32);
}

// --- CheckUnchanged ----------------------------------------------------------

TEST(GdalSourceTest, UnchangedFilesPassCheckUnchanged) {
  TempDir dir;
  std::vector<std::string> tiles;
  std::unique_ptr<RasterSource> src = MustOpen(BuildMosaic(dir, 32, &tiles));
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(ReadAllOf(*src).ok());
  EXPECT_TRUE(src->CheckUnchanged().ok());
}

TEST(GdalSourceTest, FileRewrittenInPlaceDuringTheRunFailsCheckUnchanged) {
  TempDir dir;
  const std::string in = dir.File("in.tif"), other = dir.File("other.tif");
  WriteTiff(RandomArray(MakeProfile(64, 1, PixelType::kU16), 2), in, 32);
  WriteTiff(RandomArray(MakeProfile(64, 1, PixelType::kU16), 3), other, 32);
  std::unique_ptr<RasterSource> src = MustOpen(in);
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(ReadAllOf(*src).ok());
  RewriteInPlace(in, FileBytes(other));
  const absl::Status s = src->CheckUnchanged();
  RecordStatus(s);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("'", in, "' changed during the run (modification time ")));
}

TEST(GdalSourceTest, FileReplacedDuringTheRunFailsCheckUnchanged) {
  TempDir dir;
  const std::string in = dir.File("in.tif"), other = dir.File("other.tif");
  WriteTiff(RandomArray(MakeProfile(64, 1, PixelType::kU16), 2), in, 32);
  WriteTiff(RandomArray(MakeProfile(64, 1, PixelType::kU16), 3), other, 32);
  std::unique_ptr<RasterSource> src = MustOpen(in);
  ASSERT_NE(src, nullptr);
  ASSERT_EQ(std::rename(other.c_str(), in.c_str()), 0);
  const absl::Status s = src->CheckUnchanged();
  RecordStatus(s);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("'", in, "' changed during the run (replaced by another file")));
}

TEST(GdalSourceTest, FileDeletedDuringTheRunFailsCheckUnchanged) {
  TempDir dir;
  const std::string in = dir.File("in.tif");
  WriteTiff(RandomArray(MakeProfile(64, 1, PixelType::kU16), 2), in, 32);
  std::unique_ptr<RasterSource> src = MustOpen(in);
  ASSERT_NE(src, nullptr);
  ASSERT_EQ(::unlink(in.c_str()), 0);
  const absl::Status s = src->CheckUnchanged();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("'", in, "' changed during the run (it no longer exists)")));
}

TEST(GdalSourceTest, VrtSourceRewrittenDuringTheRunFailsCheckUnchanged) {
  TempDir dir;
  std::vector<std::string> tiles;
  std::unique_ptr<RasterSource> src = MustOpen(BuildMosaic(dir, 32, &tiles));
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(ReadAllOf(*src).ok());
  RewriteInPlace(tiles[1], FileBytes(tiles[0]));
  const absl::Status s = src->CheckUnchanged();
  RecordStatus(s);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("'", tiles[1], "' changed during the run (")));
}

// --- Reopened handles ----------------------------------------------------------

struct Replacement {
  std::string name;
  Profile profile;
  int block;
  std::string change;  // what the message must say, beyond the identity
};
void PrintTo(const Replacement& r, std::ostream* os) { *os << r.name; }

class ReopenTest : public ::testing::TestWithParam<Replacement> {};

// A handle the pool closed is reopened for the next read; a file renamed
// over the path in between is another file, and what a read into the tile
// buffers would have met is said.
TEST_P(ReopenTest, ReopenedHandleOfAReplacedFileIsRefusedSayingWhatChanged) {
  const Replacement& r = GetParam();
  TempDir dir;
  const std::string in = dir.File("in.tif"), other = dir.File("other.tif");
  WriteTiff(RandomArray(MakeProfile(256, 2, PixelType::kU16), 4), in, 32);
  WriteTiff(RandomArray(r.profile, 5), other, r.block);
  std::unique_ptr<RasterSource> src = MustOpen(in);
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(ReadWindow(*src, {0, 0, 32, 32}).ok());  // the once-a-second stat is done
  ASSERT_EQ(std::rename(other.c_str(), in.c_str()), 0);
  HandlePool::Global().CloseIdle();
  const absl::Status s = ReadWindow(*src, {32, 32, 32, 32});
  RecordStatus(s);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("'", in, "' changed since it was opened (replaced by another file")));
  EXPECT_THAT(std::string(s.message()), HasSubstr(r.change));
}

INSTANTIATE_TEST_SUITE_P(
    Replacements, ReopenTest,
    ::testing::Values(
        Replacement{"OtherPixelType", MakeProfile(256, 2, PixelType::kF64), 32, "band 1 pixel type UInt16 -> Float64"},
        Replacement{"OtherBlockSize", MakeProfile(256, 2, PixelType::kU16), 128, "band 1 block size 32x32 -> 128x128"},
        Replacement{"OtherSize", MakeProfile(100, 2, PixelType::kU16), 32, "raster size 256x256 -> 100x100"},
        Replacement{"OtherBandCount", MakeProfile(256, 1, PixelType::kU16), 32, "bands 2 -> 1; band 2 no longer exists"},
        Replacement{"SameLayout", MakeProfile(256, 2, PixelType::kU16), 32, "modification time "}),
    [](const auto& info) { return info.param.name; });

TEST(GdalSourceTest, ReopenAfterTheFileWasDeletedIsUnavailable) {
  TempDir dir;
  const std::string in = dir.File("in.tif");
  WriteTiff(RandomArray(MakeProfile(64, 1, PixelType::kU8), 6), in, 32);
  std::unique_ptr<RasterSource> src = MustOpen(in);
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(ReadWindow(*src, {0, 0, 32, 32}).ok());
  ASSERT_EQ(::unlink(in.c_str()), 0);
  HandlePool::Global().CloseIdle();
  const absl::Status s = ReadWindow(*src, {0, 0, 32, 32});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("cannot reopen '", in, "': the file no longer exists")));
}

// --- The handle pool ----------------------------------------------------------

int OpenDescriptors() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n - 3;  // ".", ".." and opendir's own
}

class ScopedPoolCap {
 public:
  explicit ScopedPoolCap(int64_t cap) { HandlePool::Global().SetCapForTesting(cap); }
  ~ScopedPoolCap() { HandlePool::Global().SetCapForTesting(0); }
};

TEST(HandlePoolTest, CapFollowsTheDescriptorLimit) {
  struct rlimit rl;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  const int64_t cap = HandlePool::CapFromDescriptorLimit();
  EXPECT_GE(cap, HandlePool::kMinCap);
  EXPECT_LE(cap, HandlePool::kMaxCap);
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 2 <= HandlePool::kMaxCap) {
    EXPECT_EQ(cap, std::max<int64_t>(HandlePool::kMinCap, rl.rlim_cur / 2));
  }
}

// Forty sources read in turn through a pool capped at 8: never more than 8
// GDAL handles (nor descriptors for them) are open, and every read is right.
TEST(HandlePoolTest, SourcesReadInTurnKeepAtMostTheCapOpen) {
  TempDir dir;
  ScopedPoolCap cap(8);
  HandlePool::Global().CloseIdle();
  const int fds_before = OpenDescriptors();
  std::vector<std::unique_ptr<RasterSource>> sources;
  std::vector<Array> arrays;
  for (int i = 0; i < 40; ++i) {
    arrays.push_back(RandomArray(MakeProfile(64, 1, PixelType::kU8), 100 + i));
    const std::string path = dir.File(absl::StrCat("in", i, ".tif"));
    WriteTiff(arrays.back(), path, 32);
    sources.push_back(MustOpen(path));
    ASSERT_NE(sources.back(), nullptr);
    EXPECT_LE(HandlePool::Global().open_handles(), 8);
  }
  // Uncompressed GeoTIFFs: read through pooled descriptors of their own
  // (raw_tiff.h), counted in the cap like handles.
  const int64_t raw_before = eoscale::io::internal::RawTiffReadCount();
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 40; ++i) {
      Array a;
      ASSERT_TRUE(ReadWindow(*sources[i], {0, 0, 64, 64}, &a).ok());
      EXPECT_TRUE(SameBytes(a, arrays[i])) << "source " << i;
      EXPECT_LE(HandlePool::Global().open_handles(), 8);
    }
  }
  EXPECT_EQ(eoscale::io::internal::RawTiffReadCount() - raw_before, 120);
  EXPECT_LE(OpenDescriptors() - fds_before, 8);
  sources.clear();
  EXPECT_EQ(HandlePool::Global().open_handles(), 0);
}

// More concurrent readers than the cap: each gets a handle (the pool never
// makes a reader wait), and the idle ones come back under the cap.
TEST(HandlePoolTest, ConcurrentReadersBeyondTheCapAllRead) {
  TempDir dir;
  ScopedPoolCap cap(HandlePool::kMinCap);
  const std::string in = dir.File("in.tif");
  const Array input = RandomArray(MakeProfile(256, 1, PixelType::kU16), 7);
  WriteTiff(input, in, 32);
  std::unique_ptr<RasterSource> src = MustOpen(in);
  ASSERT_NE(src, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < 20; ++k) {
        Array a;
        if (!ReadWindow(*src, {0, 0, 256, 256}, &a).ok() || !SameBytes(a, input)) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(HandlePool::Global().open_handles(), HandlePool::kMinCap);
}

TEST(HandlePoolTest, LeastRecentlyUsedIdleHandleIsClosedFirst) {
  io::EnsureGdalInitialized();
  HandlePool pool;
  pool.SetCapForTesting(2);
  GDALDriverH mem = GDALGetDriverByName("MEM");
  const HandlePool::Key a = pool.NewKey(), b = pool.NewKey(), c = pool.NewKey();
  for (HandlePool::Key k : {a, b, c}) {
    pool.ReserveOpen();
    pool.Return(k, GDALCreate(mem, "", 1, 1, 1, GDT_Byte, nullptr));
  }
  EXPECT_EQ(pool.open_handles(), 2);
  EXPECT_EQ(pool.Borrow(a), nullptr);  // the oldest went
  GDALDatasetH hb = pool.Borrow(b);
  ASSERT_NE(hb, nullptr);
  pool.Return(b, hb);  // b is now the most recent: c goes next
  pool.ReserveOpen();
  pool.Return(a, GDALCreate(mem, "", 1, 1, 1, GDT_Byte, nullptr));
  EXPECT_EQ(pool.Borrow(c), nullptr);
  GDALDatasetH ha = pool.Borrow(a);
  EXPECT_NE(ha, nullptr);
  if (ha != nullptr) pool.Return(a, ha);
  EXPECT_EQ(pool.open_handles(), 2);
}

// Descriptors (the raw path's, raw_tiff.h) are pooled like handles, under
// keys of their own, and evicted with them in one order.
TEST(HandlePoolTest, DescriptorsArePooledAndEvictedWithHandles) {
  io::EnsureGdalInitialized();
  TempDir dir;
  const std::string in = dir.File("in.tif");
  WriteTiff(RandomArray(MakeProfile(16, 1, PixelType::kU8), 8), in, 16);
  HandlePool pool;
  pool.SetCapForTesting(2);
  const int fds_before = OpenDescriptors();
  const HandlePool::Key handles = pool.NewKey(), fds = pool.NewKey(), more = pool.NewKey();
  pool.ReserveOpen();
  pool.Return(handles, GDALCreate(GDALGetDriverByName("MEM"), "", 1, 1, 1, GDT_Byte, nullptr));
  for (HandlePool::Key k : {fds, more}) {
    pool.ReserveOpen();
    pool.ReturnFd(k, ::open(in.c_str(), O_RDONLY | O_CLOEXEC));
  }
  EXPECT_EQ(pool.open_handles(), 2);
  EXPECT_EQ(pool.Borrow(handles), nullptr) << "the oldest entry, a handle, went";
  EXPECT_EQ(OpenDescriptors() - fds_before, 2);
  EXPECT_EQ(pool.Borrow(fds), nullptr) << "a key of descriptors gives no handle";
  const int fd = pool.BorrowFd(fds);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(pool.BorrowFd(fds), -1) << "its only descriptor is borrowed";
  pool.DiscardFd(fd);
  EXPECT_EQ(OpenDescriptors() - fds_before, 1);
  EXPECT_EQ(pool.open_handles(), 1);
  pool.Drop(more);
  EXPECT_EQ(pool.open_handles(), 0);
  EXPECT_EQ(OpenDescriptors(), fds_before);
}

// Out of descriptors: the message says so and gives the limit. In a death
// test's child (the limit and the descriptors it eats are its own).
void ExhaustDescriptors() {
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = 64;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) std::_Exit(2);
  while (::open("/dev/null", O_RDONLY) >= 0) {
  }
}

TEST(GdalSourceDeathTest, OpenWithoutDescriptorsNamesTheLimit) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TempDir dir;
  const std::string in = dir.File("in.tif");
  WriteTiff(RandomArray(MakeProfile(64, 1, PixelType::kU8), 8), in, 32);
  EXPECT_EXIT(
      {
        ExhaustDescriptors();
        const absl::Status s = OpenRaster(in).status();
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        std::_Exit(s.code() == absl::StatusCode::kResourceExhausted ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "RESOURCE_EXHAUSTED: cannot open '.*in.tif': too many open files: the process limit \\(ulimit -n\\) is 64");
}

TEST(GdalSourceDeathTest, ReopenWithoutDescriptorsNamesTheLimit) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TempDir dir;
  const std::string in = dir.File("in.tif");
  WriteTiff(RandomArray(MakeProfile(64, 1, PixelType::kU8), 8), in, 32);
  EXPECT_EXIT(
      {
        std::unique_ptr<RasterSource> src = *OpenRaster(in);
        HandlePool::Global().CloseIdle();  // the next read opens a handle
        ExhaustDescriptors();
        const absl::Status s = ReadWindow(*src, {0, 0, 32, 32});
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        std::_Exit(s.code() == absl::StatusCode::kResourceExhausted ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "RESOURCE_EXHAUSTED: cannot reopen '.*in.tif': too many open files: the process limit \\(ulimit -n\\) is 64");
}

// --- GDAL's block cache ------------------------------------------------------

class ScopedGdalCacheMax {
 public:
  explicit ScopedGdalCacheMax(int64_t bytes) : saved_(GDALGetCacheMax64()) { GDALSetCacheMax64(bytes); }
  ~ScopedGdalCacheMax() { GDALSetCacheMax64(saved_); }

 private:
  int64_t saved_;
};

// A host that gives GDAL 1 GiB of cache: unaligned windows of a
// pixel-interleaved 4-band tiled GeoTIFF (8 MiB of pixels) go through the
// cache, and every block they bring in is dropped after the read.
TEST(GdalSourceTest, ReadsLeaveNothingInGdalsCacheWhateverItsSize) {
  TempDir dir;
  const std::string in = dir.File("in.tif");
  const Array input = RandomArray(MakeProfile(1024, 4, PixelType::kU16), 9);
  WriteTiff(input, in, 128);  // GTiff's default interleave for 4 bands: pixel
  ScopedGdalCacheMax cache(int64_t{1} << 30);
  std::unique_ptr<RasterSource> src = MustOpen(in);
  ASSERT_NE(src, nullptr);
  const int64_t base = GDALGetCacheUsed64();
  int64_t peak = 0;
  int reads = 0;
  for (int y = 0; y + 100 <= 1024; y += 97) {
    for (int x = 0; x + 100 <= 1024; x += 89) {
      ASSERT_TRUE(ReadWindow(*src, {x, y, 100, 100}).ok());
      peak = std::max<int64_t>(peak, GDALGetCacheUsed64() - base);
      ++reads;
    }
  }
  // Aligned blocks, one band of four selected: GDALReadBlock, but GTiff
  // caches the other bands' blocks of a pixel-interleaved file.
  std::unique_ptr<RasterSource> band2 = MustOpen(in, {2});
  ASSERT_NE(band2, nullptr);
  for (int y = 0; y < 1024; y += 128) {
    for (int x = 0; x < 1024; x += 128) {
      ASSERT_TRUE(ReadWindow(*band2, {x, y, 128, 128}).ok());
      peak = std::max<int64_t>(peak, GDALGetCacheUsed64() - base);
    }
  }
  ::testing::Test::RecordProperty("cache_peak_bytes", std::to_string(peak));
  std::printf("%d unaligned reads and 64 block reads: GDAL cache grew by at most %lld bytes\n", reads,
              static_cast<long long>(peak));
  EXPECT_LE(peak, 0) << "bytes the reads left in GDAL's cache";
}

// The same through a VRT mosaic: its sources' blocks are cached by the
// source datasets the VRT opened, not by the VRT's bands.
TEST(GdalSourceTest, VrtReadsLeaveNothingInGdalsCacheWhateverItsSize) {
  TempDir dir;
  std::vector<std::string> tiles;
  const std::string vrt = BuildMosaic(dir, 16, &tiles);
  ScopedGdalCacheMax cache(int64_t{1} << 30);
  std::unique_ptr<RasterSource> src = MustOpen(vrt);
  ASSERT_NE(src, nullptr);
  const int64_t base = GDALGetCacheUsed64();
  int64_t peak = 0;
  for (int y = 0; y + 20 <= 64; y += 13) {
    for (int x = 0; x + 20 <= 128; x += 11) {
      ASSERT_TRUE(ReadWindow(*src, {x, y, 20, 20}).ok());
      peak = std::max<int64_t>(peak, GDALGetCacheUsed64() - base);
    }
  }
  // The VRT's own block (its bands' 128 x 64, the whole mosaic): read with
  // GDALReadBlock, which reads the sources through the cache.
  ASSERT_TRUE(ReadWindow(*src, {0, 0, 128, 64}).ok());
  peak = std::max<int64_t>(peak, GDALGetCacheUsed64() - base);
  ::testing::Test::RecordProperty("cache_peak_bytes", std::to_string(peak));
  EXPECT_LE(peak, 0) << "bytes the reads left in GDAL's cache";
}

}  // namespace
}  // namespace eoscale
