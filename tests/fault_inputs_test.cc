// Inputs that are not files, that change under the engine, or that are too
// many for the process's descriptors (issue 11, items 5 and 7), tried through
// the public API. The contract: refused at Open with a message naming the
// file and what is wrong, or a run that fails naming the file and what
// changed; never a hang, a crash or an output.
//
// What could crash or exhaust descriptors runs in a child process
// (tests/fault_inputs_child.cc), so that a failure is reported, not suffered.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cpl_vsi.h"
#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"
#include "eoscale/io/gdal_raster.h"
#include "fault_util.h"
#include "gdal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::ChildResult;
using ::eoscale::testing::FileBytes;
using ::eoscale::testing::ParseChildStatus;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::RecordStatus;
using ::eoscale::testing::RunChild;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WithWatchdog;
using ::eoscale::testing::WriteTiff;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

Profile MakeProfile(int size, int bands, PixelType type) {
  Profile p;
  p.width = p.height = size;
  p.bands = bands;
  p.type = type;
  return p;
}

// Context::Open under a watchdog: a FIFO used to block the open for ever.
absl::Status OpenThroughContext(const std::string& path) {
  return WithWatchdog<absl::Status>(std::chrono::seconds(30), absl::StrCat("Open('", path, "')"), [path] {
    absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create({});
    if (!ctx.ok()) return ctx.status();
    return (*ctx)->Open(path).status();
  });
}

// Opens `path` and reads it whole through a Context.
absl::StatusOr<Array> ReadThroughContext(const std::string& path) {
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create({});
  if (!ctx.ok()) return ctx.status();
  absl::StatusOr<Image> img = (*ctx)->Open(path);
  if (!img.ok()) return img.status();
  return (*ctx)->ReadAll(*img);
}

void ExpectRefusedAsSpecial(const std::string& path, const std::string& kind) {
  const absl::Status s = OpenThroughContext(path);
  RecordStatus(s);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("'", path, "' is ", kind, ", not a raster file")));
}

TEST(InputsTest, FifoIsRefusedAtOpenWithoutBlocking) {
  TempDir dir;
  const std::string fifo = dir.File("in.tif");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ExpectRefusedAsSpecial(fifo, "a FIFO (named pipe)");
}

TEST(InputsTest, SymlinkToAFifoIsRefusedAtOpen) {
  TempDir dir;
  const std::string fifo = dir.File("pipe"), link = dir.File("in.tif");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(::symlink(fifo.c_str(), link.c_str()), 0);
  ExpectRefusedAsSpecial(link, "a FIFO (named pipe)");
}

// A VRT whose source is a FIFO: refused at Open too (its first read would
// block for ever).
TEST(InputsTest, VrtReadingAFifoIsRefusedAtOpen) {
  TempDir dir;
  const std::string fifo = dir.File("pipe.tif"), vrt = dir.File("in.vrt");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::FILE* f = std::fopen(vrt.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fprintf(f,
               "<VRTDataset rasterXSize=\"16\" rasterYSize=\"16\">\n"
               "  <VRTRasterBand dataType=\"Byte\" band=\"1\">\n"
               "    <SimpleSource>\n"
               "      <SourceFilename relativeToVRT=\"0\">%s</SourceFilename>\n"
               "      <SourceBand>1</SourceBand>\n"
               "    </SimpleSource>\n"
               "  </VRTRasterBand>\n"
               "</VRTDataset>\n",
               fifo.c_str());
  std::fclose(f);
  const absl::Status s = OpenThroughContext(vrt);
  RecordStatus(s);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrCat("'", vrt, "' reads '", fifo, "', which is a FIFO (named pipe), not a raster file")));
}

TEST(InputsTest, CharacterDevicesAreRefusedAtOpen) {
  int tried = 0;
  for (const char* dev : {"/dev/null", "/dev/zero", "/dev/urandom"}) {
    struct stat st;
    // A test run as root elsewhere may have replaced /dev/null by a file.
    if (::stat(dev, &st) != 0 || !S_ISCHR(st.st_mode)) continue;
    ExpectRefusedAsSpecial(dev, "a character device");
    ++tried;
  }
  if (tried == 0) GTEST_SKIP() << "no character device visible here";
}

TEST(InputsTest, BlockDeviceIsRefusedAtOpen) {
  for (const char* dev : {"/dev/loop0", "/dev/sda", "/dev/vda", "/dev/nvme0n1"}) {
    struct stat st;
    if (::stat(dev, &st) == 0 && S_ISBLK(st.st_mode)) {
      ExpectRefusedAsSpecial(dev, "a block device");
      return;
    }
  }
  GTEST_SKIP() << "no block device visible here";
}

TEST(InputsTest, SocketIsRefusedAtOpen) {
  TempDir dir;
  const std::string path = dir.File("in.tif");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ExpectRefusedAsSpecial(path, "a socket");
  ::close(fd);
}

TEST(InputsTest, GdalMemoryPathIsOpenedAndRead) {
  const std::string path = "/vsimem/eoscale_inputs_test/in.tif";
  const Array input = RandomArray(MakeProfile(100, 2, PixelType::kI16), 31);
  WriteTiff(input, path, 32);
  absl::StatusOr<Array> read = ReadThroughContext(path);
  VSIUnlink(path.c_str());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(SameBytes(*read, input));
}

TEST(InputsTest, ZipMemberIsOpenedAndRead) {
  TempDir dir;
  const std::string tif = dir.File("in.tif"), zip = dir.File("in.zip");
  const Array input = RandomArray(MakeProfile(80, 1, PixelType::kF32), 32);
  WriteTiff(input, tif, 16);
  const std::string bytes = FileBytes(tif);
  VSILFILE* f = VSIFOpenL(absl::StrCat("/vsizip/", zip, "/in.tif").c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(VSIFWriteL(bytes.data(), 1, bytes.size(), f), bytes.size());
  VSIFCloseL(f);
  absl::StatusOr<Array> read = ReadThroughContext(absl::StrCat("/vsizip/", zip, "/in.tif"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(SameBytes(*read, input));
}

// A Zarr array is a folder: GDAL opens it, so must we.
TEST(InputsTest, FolderBasedFormatIsOpenedAndRead) {
  TempDir dir;
  const std::string path = dir.File("in.zarr");
  const Array input = RandomArray(MakeProfile(70, 1, PixelType::kU16), 33);
  io::EnsureGdalInitialized();
  GDALDriverH zarr = GDALGetDriverByName("Zarr");
  if (zarr == nullptr) GTEST_SKIP() << "GDAL has no Zarr driver";
  GDALDatasetH h = GDALCreate(zarr, path.c_str(), 70, 70, 1, GDT_UInt16, nullptr);
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(GDALRasterIO(GDALGetRasterBand(h, 1), GF_Write, 0, 0, 70, 70, const_cast<void*>(input.data()), 70, 70,
                         GDT_UInt16, 0, 0),
            CE_None);
  GDALClose(h);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  ASSERT_TRUE(S_ISDIR(st.st_mode));
  absl::StatusOr<Array> read = ReadThroughContext(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(SameBytes(*read, input));
}

TEST(InputsTest, FolderThatIsNoRasterIsRefusedAsAFolder) {
  TempDir dir;
  const absl::Status s = OpenThroughContext(dir.path());
  RecordStatus(s);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("'", dir.path(), "' is a folder, not a raster file")));
}

// --- An input renamed over between Open and Run -----------------------------

struct Replacement {
  std::string name;
  Profile profile;
  int block;
};

// The input: 512 x 512, 2 bands of u16 in 32 x 32 blocks (256 tiles of 32).
Profile InputProfile() { return MakeProfile(512, 2, PixelType::kU16); }

std::vector<Replacement> Replacements() {
  return {
      {"OtherPixelType", MakeProfile(512, 2, PixelType::kF64), 32},
      {"OtherBlockSize", MakeProfile(512, 2, PixelType::kU16), 256},
      {"OtherSize", MakeProfile(300, 2, PixelType::kU16), 32},
      {"OtherBandCount", MakeProfile(512, 1, PixelType::kU16), 32},
      {"SameLayout", MakeProfile(512, 2, PixelType::kU16), 32},
  };
}

void PrintTo(const Replacement& r, std::ostream* os) { *os << r.name; }

class ReplacedInputTest : public ::testing::TestWithParam<std::tuple<Replacement, int /*workers*/>> {};

TEST_P(ReplacedInputTest, RunFailsNamingTheFileAndWhatChangedNeverCrashes) {
  const auto& [repl, workers] = GetParam();
  TempDir dir;
  const std::string in = dir.File("in.tif"), other = dir.File("other.tif"), out = dir.File("out.tif");
  WriteTiff(RandomArray(InputProfile(), 41), in, 32);
  WriteTiff(RandomArray(repl.profile, 42), other, repl.block);
  const ChildResult r = RunChild({EOSCALE_INPUTS_CHILD, "replace", in, other, out, "--workers",
                                  std::to_string(workers), "--tile", "32"});
  ASSERT_TRUE(r.exited) << "the child died of signal " << r.signal << "; output:\n" << r.output;
  const std::optional<testing::ChildStatus> st = ParseChildStatus(r.output);
  ASSERT_TRUE(st.has_value()) << r.output;
  ::testing::Test::RecordProperty("error", st->message);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_EQ(st->code, static_cast<int>(absl::StatusCode::kDataLoss)) << st->message;
  EXPECT_THAT(st->message, HasSubstr(absl::StrCat("'", in, "' changed since it was opened (")));
  // The first read stats the file; what a reopened handle would have met
  // (repl.change) is checked in gdal_source_test.
  EXPECT_THAT(st->message, HasSubstr("replaced by another file"));
  EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif"));
}

INSTANTIATE_TEST_SUITE_P(Replacements, ReplacedInputTest,
                         ::testing::Combine(::testing::ValuesIn(Replacements()), ::testing::Values(2, 4)),
                         [](const auto& info) {
                           return absl::StrCat(std::get<0>(info.param).name, "W", std::get<1>(info.param));
                         });

// Rewritten in place (same size, same layout, other pixels: a colleague
// regenerating it) between Open and Run: the run fails before any tile.
TEST(InputsTest, InputRewrittenInPlaceBetweenOpenAndRunFailsTheRun) {
  TempDir dir;
  const std::string in = dir.File("in.tif"), other = dir.File("other.tif"), out = dir.File("out.tif");
  WriteTiff(RandomArray(InputProfile(), 43), in, 32);
  WriteTiff(RandomArray(InputProfile(), 44), other, 32);
  const std::string new_bytes = FileBytes(other);
  ASSERT_EQ(FileBytes(in).size(), new_bytes.size());
  ContextOptions o;
  o.workers = 2;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  ASSERT_TRUE(ctx.ok());
  absl::StatusOr<Image> img = (*ctx)->Open(in);
  ASSERT_TRUE(img.ok()) << img.status();
  ASSERT_TRUE((*ctx)->Write(*img, out).ok());
  // File times tick with the kernel's clock (a few ms): let one tick pass.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  {
    std::FILE* f = std::fopen(in.c_str(), "r+b");  // in place: same inode
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(new_bytes.data(), 1, new_bytes.size(), f), new_bytes.size());
    std::fclose(f);
  }
  const absl::Status s = (*ctx)->Run();
  RecordStatus(s);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("'", in, "' changed since it was opened (modification time ")));
  EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("replaced")));
  EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif", "other.tif"));
}

// --- Many inputs, few descriptors -------------------------------------------

// 500 inputs of 256 x 256 u8 in 32 x 32 blocks (64 tiles each), summed by one Map with 4
// workers, under `ulimit -n 1024`: every source needs a handle at once
// (each open file a descriptor), and each reading thread another.
TEST(InputsTest, FiveHundredInputsWithFourWorkersRunUnderUlimit1024) {
  constexpr int kInputs = 500, kSize = 256;
  TempDir dir;
  const Profile p = MakeProfile(kSize, 1, PixelType::kU8);
  std::vector<int32_t> sum(kSize * kSize, 0);
  for (int i = 0; i < kInputs; ++i) {
    const Array a = RandomArray(p, 1000 + i);
    const auto s = a.Samples<uint8_t>();
    for (size_t k = 0; k < s.size(); ++k) sum[k] += s[k];
    WriteTiff(a, dir.File(absl::StrCat("in", i, ".tif")), 32);
  }
  uint64_t fnv = 1469598103934665603ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(sum.data());
  for (size_t k = 0; k < sum.size() * sizeof(int32_t); ++k) {
    fnv ^= bytes[k];
    fnv *= 1099511628211ull;
  }
  char expected[32];
  std::snprintf(expected, sizeof expected, "fnv %llx", static_cast<unsigned long long>(fnv));

  const ChildResult r = RunChild({EOSCALE_INPUTS_CHILD, "sum", "-", std::to_string(kInputs), dir.File("in"),
                                  "--workers", "4", "--tile", "32", "--nofile", "1024"});
  ASSERT_TRUE(r.exited) << "signal " << r.signal << "\n" << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(expected));
}

}  // namespace
}  // namespace eoscale
