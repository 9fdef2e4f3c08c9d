// Outputs, nothing lost (issue 11): what a run does to the files it writes.
//
// - All or none: a run whose later output fails at Finish (disk full at
//   close, RLIMIT_FSIZE in this process) or at Commit (its finished
//   temporary removed behind its back) leaves every previous file of every
//   output byte for byte, and no new one, with every way Commit can move
//   files (renameat2; the fallbacks of file systems without it, forced by a
//   documented test hook).
// - Output paths: FIFOs, devices, sockets and folders are refused; a
//   symlinked output is written through and stays a link; an overwritten
//   file keeps its mode and owner; a 250-byte name works (the temporary is
//   short), a name over NAME_MAX is refused naming its length.
// - Stale temporaries of processes killed with SIGKILL are removed by the
//   next run writing that output, never those of a live process.
// - Creation options are checked against the GTiff driver; GDAL create
//   failures say their cause (no space, bad block size, permission).
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/graph/context.h"
#include "eoscale/io/gdal_raster.h"
#include "fault_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::io::internal::CommitMoves;
using ::eoscale::testing::ChildOptions;
using ::eoscale::testing::ChildResult;
using ::eoscale::testing::Exists;
using ::eoscale::testing::Fingerprint;
using ::eoscale::testing::FingerprintOf;
using ::eoscale::testing::ParseChildStatus;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::RecordStatus;
using ::eoscale::testing::RunChild;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WriteTiff;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

Profile MakeProfile(int w, int h, PixelType t = PixelType::kU8) {
  Profile p;
  p.width = w;
  p.height = h;
  p.type = t;
  return p;
}

Array CopyOf(const Array& a) {
  Array c(a.profile());
  std::memcpy(c.mutable_data(), a.data(), a.bytes());
  return c;
}

// Our temporaries in `folder` (".NAME.eoscale-HASH-PID-N.tmp").
std::vector<std::string> Temporaries(const std::string& folder) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(folder)) {
    const std::string n = e.path().filename().string();
    if (absl::StrContains(n, ".eoscale-")) out.push_back(n);
  }
  return out;
}
std::vector<std::string> TemporariesOf(const std::string& folder, const std::string& name) {
  std::vector<std::string> out;
  for (const std::string& t : Temporaries(folder)) {
    if (absl::StartsWith(t, absl::StrCat(".", name.substr(0, 64), ".eoscale-"))) out.push_back(t);
  }
  return out;
}

std::unique_ptr<RasterSink> MustCreate(const std::string& path, const Profile& p, int block = 64,
                                       const std::vector<std::string>& options = {}) {
  absl::StatusOr<std::unique_ptr<RasterSink>> s = io::CreateGeoTiff(path, p, block, block, options);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

// Creates, writes and finishes a sink for `a` at `path`.
std::unique_ptr<RasterSink> Finished(const std::string& path, const Array& a) {
  std::unique_ptr<RasterSink> s = MustCreate(path, a.profile());
  if (s == nullptr) return nullptr;
  EXPECT_TRUE(s->Write(a.view()).ok());
  EXPECT_TRUE(s->Finish().ok());
  return s;
}

// Writes each array to its path in one run of a Context (Write + Run).
absl::Status RunWrites(const std::vector<std::pair<const Array*, std::string>>& outputs, int tile = 64,
                       const std::vector<std::string>& options = {}) {
  ContextOptions o;
  o.tiling.tile_size = tile;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  if (!ctx.ok()) return ctx.status();
  for (const auto& [array, path] : outputs) {
    absl::StatusOr<Image> img = (*ctx)->FromArray(CopyOf(*array));
    if (!img.ok()) return img.status();
    if (absl::Status s = (*ctx)->Write(*img, path, options); !s.ok()) return s;
  }
  return (*ctx)->Run();
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// Open descriptors of this process: a sink holds its folder, its temporary
// and the replaced file, and must give all of them back. (GDAL keeps a few
// open after its first use: count after a first sink.)
int OpenFds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? st.st_mode : 0;
}

// ----- All outputs or none ---------------------------------------------------

class CommitAllTest : public ::testing::TestWithParam<CommitMoves> {
 protected:
  void SetUp() override { io::internal::SetCommitMovesForTesting(GetParam()); }
  void TearDown() override { io::internal::SetCommitMovesForTesting(CommitMoves::kAuto); }
};

// Three outputs: a.tif and b.tif replace previous files, c.tif is new. The
// last to commit, b.tif, fails (its finished temporary was removed): a.tif,
// already replaced, is put back byte for byte with its mode; c.tif, already
// in place, is removed; no temporary stays.
TEST_P(CommitAllTest, LaterCommitFailureRestoresEveryEarlierOutputByteForByte) {
  TempDir dir;
  const std::string a = dir.File("a.tif"), b = dir.File("b.tif"), c = dir.File("c.tif");
  WriteTiff(RandomArray(MakeProfile(40, 30), 1), a, 16);
  WriteTiff(RandomArray(MakeProfile(50, 20), 2), b, 16);
  ASSERT_EQ(::chmod(a.c_str(), 0640), 0);
  Finished(dir.File("warm-up.tif"), RandomArray(MakeProfile(8, 8), 0))->Abort();
  const int fds_before = OpenFds();
  const Fingerprint prev_a = FingerprintOf(a), prev_b = FingerprintOf(b);
  std::unique_ptr<RasterSink> sa = Finished(a, RandomArray(MakeProfile(40, 30), 3));
  std::unique_ptr<RasterSink> sc = Finished(c, RandomArray(MakeProfile(10, 10), 4));
  std::unique_ptr<RasterSink> sb = Finished(b, RandomArray(MakeProfile(50, 20), 5));
  ASSERT_TRUE(sa && sb && sc);
  const std::vector<std::string> tmp_b = TemporariesOf(dir.path(), "b.tif");
  ASSERT_EQ(tmp_b.size(), 1u);
  ASSERT_EQ(::unlink(dir.File(tmp_b[0]).c_str()), 0);

  const absl::Status st = CommitAll({sa.get(), sc.get(), sb.get()});
  RecordStatus(st);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Msg(st), HasSubstr("'" + b + "'"));
  EXPECT_THAT(Msg(st), ::testing::EndsWith("; the 2 outputs already moved into place were put back as before"));
  EXPECT_EQ(FingerprintOf(a), prev_a);
  EXPECT_EQ(ModeOf(a) & 07777, 0640u);
  EXPECT_EQ(FingerprintOf(b), prev_b);
  EXPECT_FALSE(Exists(c));
  EXPECT_THAT(dir.List(), UnorderedElementsAre("a.tif", "b.tif"));
  // Rollback, Abort and Cleanup may be called again: nothing changes.
  sa->Rollback();
  sa->Cleanup();
  sb->Abort();
  EXPECT_EQ(FingerprintOf(a), prev_a);
  EXPECT_THAT(dir.List(), UnorderedElementsAre("a.tif", "b.tif"));
  sa.reset();
  sb.reset();
  sc.reset();
  EXPECT_EQ(OpenFds(), fds_before) << "a sink leaked a file descriptor";
}

TEST_P(CommitAllTest, CommitKeepsTheReplacedFileUntilCleanupAndRollbackPutsItBack) {
  TempDir dir;
  const std::string a = dir.File("a.tif");
  WriteTiff(RandomArray(MakeProfile(40, 30), 1), a, 16);
  const Fingerprint prev = FingerprintOf(a);
  const Array next = RandomArray(MakeProfile(40, 30), 2);
  {
    std::unique_ptr<RasterSink> s = Finished(a, next);
    ASSERT_TRUE(s->Commit().ok());
    EXPECT_TRUE(SameBytes(ReadTiff(a), next));
    const std::vector<std::string> kept = Temporaries(dir.path());
    ASSERT_EQ(kept.size(), 1u) << "the replaced file is kept under a temporary name until Cleanup";
    EXPECT_EQ(FingerprintOf(dir.File(kept[0])), prev);
    s->Rollback();
    EXPECT_EQ(FingerprintOf(a), prev);
    EXPECT_THAT(dir.List(), UnorderedElementsAre("a.tif"));
  }
  {
    const int fds_before = OpenFds();
    std::unique_ptr<RasterSink> s = Finished(a, next);
    ASSERT_TRUE(CommitAll({s.get()}).ok());  // commits and cleans up
    s.reset();
    EXPECT_EQ(OpenFds(), fds_before) << "a sink leaked a file descriptor";
    EXPECT_TRUE(SameBytes(ReadTiff(a), next));
    EXPECT_THAT(dir.List(), UnorderedElementsAre("a.tif"));
  }
  {  // A new file: Rollback removes it.
    std::unique_ptr<RasterSink> s = Finished(dir.File("new.tif"), next);
    ASSERT_TRUE(s->Commit().ok());
    EXPECT_TRUE(SameBytes(ReadTiff(dir.File("new.tif")), next));
    s->Rollback();
    EXPECT_THAT(dir.List(), UnorderedElementsAre("a.tif"));
  }
}

INSTANTIATE_TEST_SUITE_P(Moves, CommitAllTest,
                         ::testing::Values(CommitMoves::kAuto, CommitMoves::kNoRenameat2, CommitMoves::kNoHardLinks),
                         [](const auto& info) {
                           switch (info.param) {
                             case CommitMoves::kAuto: return std::string("Renameat2");
                             case CommitMoves::kNoRenameat2: return std::string("HardLinkBackup");
                             case CommitMoves::kNoHardLinks: return std::string("RenameAside");
                           }
                           return std::string("Unknown");
                         });

// RLIMIT_FSIZE for this process (SIGXFSZ ignored: a write past it fails with
// EFBIG, as on a full disk), restored on scope exit.
class ScopedFileSizeLimit {
 public:
  explicit ScopedFileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = saved_;
    rl.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &rl);
  }
  ~ScopedFileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  struct rlimit saved_;
  sighandler_t old_handler_;
};

// The second output does not fit on the "disk" when it is closed: its Finish
// fails with RESOURCE_EXHAUSTED naming it, and nothing changes on disk.
TEST(OutputsTest, DiskFullAtFinishOfTheSecondOutputFailsFinishAndLeavesBothPreviousFiles) {
  TempDir dir;
  const std::string a = dir.File("a.tif"), b = dir.File("b.tif");
  WriteTiff(RandomArray(MakeProfile(32, 32), 1), a, 16);
  WriteTiff(RandomArray(MakeProfile(32, 32), 2), b, 16);
  const Fingerprint prev_a = FingerprintOf(a), prev_b = FingerprintOf(b);
  std::unique_ptr<RasterSink> sa = Finished(a, RandomArray(MakeProfile(32, 32), 3));
  // 512 x 512 f32 through GDAL's cache (block 40 is not a GeoTIFF block
  // size): the pixels reach the file when it is closed.
  const Array big = RandomArray(MakeProfile(512, 512, PixelType::kF32), 4);
  std::unique_ptr<RasterSink> sb = MustCreate(b, big.profile(), 40);
  ASSERT_TRUE(sa && sb);
  absl::Status st;
  {
    ScopedFileSizeLimit limit(64 * 1024);
    st = sb->Write(big.view());
    if (st.ok()) st = sb->Finish();
  }
  RecordStatus(st);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_THAT(Msg(st), StartsWith("finishing '" + b + "': "));
  sa->Abort();  // what the engine does when one Finish fails
  sb->Abort();
  EXPECT_EQ(FingerprintOf(a), prev_a);
  EXPECT_EQ(FingerprintOf(b), prev_b);
  EXPECT_THAT(dir.List(), UnorderedElementsAre("a.tif", "b.tif"));
}

// The same through the Context API: one run, two outputs, the second too
// large for the "disk".
TEST(OutputsTest, RunWhoseSecondOutputDoesNotFitLeavesBothPreviousFiles) {
  TempDir dir;
  const std::string a = dir.File("a.tif"), b = dir.File("b.tif");
  WriteTiff(RandomArray(MakeProfile(32, 32), 1), a, 16);
  WriteTiff(RandomArray(MakeProfile(32, 32), 2), b, 16);
  const Fingerprint prev_a = FingerprintOf(a), prev_b = FingerprintOf(b);
  const Array small = RandomArray(MakeProfile(32, 32), 3);
  const Array big = RandomArray(MakeProfile(512, 512, PixelType::kF32), 4);
  for (int tile : {64, 40}) {  // whole GeoTIFF blocks written at once; tiles through GDAL's cache
    SCOPED_TRACE(absl::StrCat("tile ", tile));
    absl::Status st;
    {
      ScopedFileSizeLimit limit(64 * 1024);
      st = RunWrites({{&small, a}, {&big, b}}, tile);
    }
    ::testing::Test::RecordProperty(absl::StrCat("error_tile_", tile), st.ToString());
    EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
    EXPECT_THAT(Msg(st), HasSubstr("'" + b + "'"));
    EXPECT_EQ(FingerprintOf(a), prev_a);
    EXPECT_EQ(FingerprintOf(b), prev_b);
    EXPECT_THAT(dir.List(), UnorderedElementsAre("a.tif", "b.tif"));
  }
}

// ----- Output paths ----------------------------------------------------------

TEST(OutputsTest, SpecialFilesAndFoldersAreRefusedAsOutputsAndLeftAlone) {
  TempDir dir;
  const std::string fifo = dir.File("fifo.tif"), sock = dir.File("sock.tif"), folder = dir.File("folder.tif");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  ASSERT_EQ(::mkdir(folder.c_str(), 0755), 0);
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::symlink(fifo.c_str(), dir.File("link-to-fifo.tif").c_str()), 0);
  // A character device: as root, a node of our own (code that wrongly
  // replaced it must not replace the machine's /dev/null, as the old code
  // did); otherwise /dev/null, which an unprivileged process cannot replace.
  std::string device = "/dev/null";
  if (::geteuid() == 0) {
    device = dir.File("null.tif");
    if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) GTEST_SKIP() << "root without mknod";
  }
  struct Case {
    std::string path, says;
  };
  const std::vector<Case> cases = {
      {fifo, "is a FIFO (named pipe), not a regular file: refusing to replace it with a file"},
      {device, "is a character device, not a regular file"},
      {sock, "is a socket, not a regular file"},
      {folder, "is a folder"},
      {dir.File("link-to-fifo.tif"), "(which leads to '" + fifo + "') is a FIFO (named pipe)"},
  };
  const Array a = RandomArray(MakeProfile(16, 16), 1);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    const absl::Status check = io::CheckWritable(c.path);
    ::testing::Test::RecordProperty("error_" + std::filesystem::path(c.path).filename().string(), check.ToString());
    EXPECT_EQ(check.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(check), HasSubstr("output path '" + c.path + "'"));
    EXPECT_THAT(Msg(check), HasSubstr(c.says));
    EXPECT_EQ(io::CreateGeoTiff(c.path, a.profile(), 64, 64).status(), check);
    EXPECT_EQ(RunWrites({{&a, c.path}}), check);
  }
  EXPECT_TRUE(S_ISFIFO(ModeOf(fifo)));
  EXPECT_TRUE(S_ISSOCK(ModeOf(sock)));
  EXPECT_TRUE(S_ISCHR(ModeOf(device)));
  EXPECT_THAT(Temporaries(dir.path()), IsEmpty());
  ::close(s);
}

TEST(OutputsTest, SymlinkedOutputIsWrittenThroughToItsTargetAndStaysALink) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.File("real").c_str(), 0755), 0);
  const std::string target = dir.File("real/target.tif"), link = dir.File("link.tif");
  WriteTiff(RandomArray(MakeProfile(20, 20), 1), target, 16);
  ASSERT_EQ(::symlink("real/target.tif", link.c_str()), 0);
  ASSERT_EQ(::symlink("real/new.tif", dir.File("dangling.tif").c_str()), 0);  // not there yet
  const Array a = RandomArray(MakeProfile(20, 20), 2), b = RandomArray(MakeProfile(20, 20), 3);
  ASSERT_TRUE(RunWrites({{&a, link}, {&b, dir.File("dangling.tif")}}).ok());
  EXPECT_TRUE(S_ISLNK(ModeOf(link)));
  EXPECT_EQ(std::filesystem::read_symlink(link).string(), "real/target.tif");
  EXPECT_TRUE(SameBytes(ReadTiff(target), a));
  EXPECT_TRUE(S_ISLNK(ModeOf(dir.File("dangling.tif"))));
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("real/new.tif")), b));
  EXPECT_THAT(dir.List(), UnorderedElementsAre("real", "link.tif", "dangling.tif"));
  EXPECT_THAT(Temporaries(dir.File("real")), IsEmpty());
  // The sink names the file it replaces: the target.
  std::unique_ptr<RasterSink> s = MustCreate(link, a.profile());
  EXPECT_EQ(s->target(), std::filesystem::canonical(target).string());
}

TEST(OutputsTest, OverwrittenFileKeepsItsModeAndOwner) {
  TempDir dir;
  const std::string out = dir.File("out.tif");
  WriteTiff(RandomArray(MakeProfile(20, 20), 1), out, 16);
  ASSERT_EQ(::chmod(out.c_str(), 0600), 0);
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chown(out.c_str(), 12345, 23456), 0);
  }
  const Array a = RandomArray(MakeProfile(20, 20), 2);
  {  // While it is written, the new version is no more readable than the old.
    std::unique_ptr<RasterSink> s = MustCreate(out, a.profile());
    const std::vector<std::string> tmp = Temporaries(dir.path());
    ASSERT_EQ(tmp.size(), 1u);
    EXPECT_EQ(ModeOf(dir.File(tmp[0])) & 07777, 0600u);
  }
  ASSERT_TRUE(RunWrites({{&a, out}}).ok());
  EXPECT_TRUE(SameBytes(ReadTiff(out), a));
  struct stat st;
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u) << "the mode was widened";
  if (root) {
    EXPECT_EQ(st.st_uid, 12345u);
    EXPECT_EQ(st.st_gid, 23456u);
  }
  // A new file gets the mode any new file gets (0666 less the umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ASSERT_TRUE(RunWrites({{&a, dir.File("new.tif")}}).ok());
  EXPECT_EQ(ModeOf(dir.File("new.tif")) & 07777, 0666u & ~mask);
}

// An atomic replace gives the name a new file: other hard links to the old
// one keep the old bytes (documented in docs/errors.md).
TEST(OutputsTest, HardLinksOfAnOverwrittenFileKeepTheOldBytes) {
  TempDir dir;
  const std::string out = dir.File("out.tif"), other = dir.File("other-name.tif");
  WriteTiff(RandomArray(MakeProfile(20, 20), 1), out, 16);
  ASSERT_EQ(::link(out.c_str(), other.c_str()), 0);
  const Fingerprint prev = FingerprintOf(out);
  const Array a = RandomArray(MakeProfile(20, 20), 2);
  ASSERT_TRUE(RunWrites({{&a, out}}).ok());
  EXPECT_TRUE(SameBytes(ReadTiff(out), a));
  EXPECT_EQ(FingerprintOf(other), prev);
}

TEST(OutputsTest, OutputNameOf250BytesWorksAndItsTemporaryIsShortAndRecognisable) {
  TempDir dir;
  const std::string name = std::string(246, 'n') + ".tif";
  ASSERT_EQ(name.size(), 250u);
  const std::string out = dir.File(name);
  const Array a = RandomArray(MakeProfile(20, 20), 1);
  {
    std::unique_ptr<RasterSink> s = MustCreate(out, a.profile());
    ASSERT_NE(s, nullptr);
    const std::vector<std::string> tmp = Temporaries(dir.path());
    ASSERT_EQ(tmp.size(), 1u);
    ::testing::Test::RecordProperty("temporary", tmp[0]);
    EXPECT_LE(tmp[0].size(), 126u);
    EXPECT_THAT(tmp[0], StartsWith(absl::StrCat(".", name.substr(0, 64), ".eoscale-")));
    EXPECT_THAT(tmp[0], HasSubstr(absl::StrCat("-", ::getpid(), "-")));
    s->Abort();
    EXPECT_THAT(dir.List(), IsEmpty());
  }
  ASSERT_TRUE(RunWrites({{&a, out}}).ok());
  EXPECT_TRUE(SameBytes(ReadTiff(out), a));
  EXPECT_THAT(dir.List(), UnorderedElementsAre(name));
}

TEST(OutputsTest, NameLongerThanTheFileSystemAllowsIsInvalidArgumentNamingTheLength) {
  TempDir dir;
  const std::string out = dir.File(std::string(252, 'n') + ".tif");
  const absl::Status st = io::CheckWritable(out);
  RecordStatus(st);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "cannot write '" + out + "': its name is 256 bytes long, and the file system allows at most 255");
  const Array a = RandomArray(MakeProfile(8, 8), 1);
  EXPECT_EQ(RunWrites({{&a, out}}), st);
  EXPECT_EQ(io::CreateGeoTiff(out, a.profile(), 64, 64).status(), st);
}

TEST(OutputsTest, PathLongerThanPathMaxIsInvalidArgumentNamingTheLength) {
  std::string out = "/tmp";
  while (out.size() < 5000) absl::StrAppend(&out, "/", std::string(200, 'd'));
  out += "/out.tif";
  const absl::Status st = io::CheckWritable(out);
  RecordStatus(st);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(st), HasSubstr(absl::StrCat("the path is ", out.size(), " bytes long, and the system allows at most 4095")));
}

// Out of file descriptors when the temporary is created: the cause is said.
TEST(OutputsTest, NoFileDescriptorLeftIsResourceExhaustedSayingSo) {
  TempDir dir;
  const Profile p = MakeProfile(8, 8);
  MustCreate(dir.File("warm-up.tif"), p)->Abort();  // GDAL's own first descriptors
  // Every descriptor number up to the highest in use taken (fillers in the
  // gaps), and a limit that leaves one: for the folder, not the temporary.
  int highest = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::atoi(e.path().filename().c_str()));
  }
  std::vector<int> fillers;
  while (true) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    fillers.push_back(fd);
    if (fd >= highest) break;
  }
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit rl = saved;
  rl.rlim_cur = static_cast<rlim_t>(fillers.back()) + 2;  // 0 .. back() are taken: one more
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &rl), 0);
  const std::string out = dir.File("out.tif");
  const absl::StatusOr<std::unique_ptr<RasterSink>> s = io::CreateGeoTiff(out, p, 64, 64);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  for (int fd : fillers) ::close(fd);
  RecordStatus(s.status());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted) << s.status();
  EXPECT_THAT(Msg(s.status()), HasSubstr("Too many open files"));
  EXPECT_THAT(Msg(s.status()), HasSubstr(absl::StrCat("'", out, "'")));
  EXPECT_THAT(dir.List(), IsEmpty());
}

// ----- Stale temporaries -----------------------------------------------------

constexpr int kKillSize = 384, kKillTile = 32;

// `sleep_us` per tile: the runs this test kills at 30 % sleep 20 ms, so that
// the child cannot finish while this process, slowed by a sanitizer and a
// loaded machine, is still reading its progress lines (seen under ASan: the
// second child had committed before the check at "30 %" ran).
ChildResult SlowCopy(const std::string& in, const std::string& out, std::function<bool(long long, long long)> at,
                     int sleep_us = 3000) {
  ChildOptions o;
  o.on_line = [at](const std::string& line) {
    long long done = 0, total = 0;
    if (std::sscanf(line.c_str(), "progress %lld %lld", &done, &total) != 2 || total == 0) return false;
    return at(done, total);
  };
  return RunChild({EOSCALE_FAULT_CHILD, in, out, "--tile", std::to_string(kKillTile), "--workers", "2", "--sleep-us",
                   std::to_string(sleep_us), "--progress"},
                  o);
}

TEST(OutputsTest, StaleTemporariesOfKilledRunsAreRemovedByTheNextRunNeverThoseOfALiveOne) {
  TempDir dir;
  const std::string in = dir.File("in.tif"), out = dir.File("out.tif");
  Profile p = MakeProfile(kKillSize, kKillSize, PixelType::kI16);
  p.bands = 2;
  const Array input = RandomArray(p, 7);
  WriteTiff(input, in, kKillTile);
  // A stale temporary of another output: not this run's business.
  const std::string other_stale = ".other.tif.eoscale-0123456789abcdef-999999999-0.tmp";
  { std::ofstream(dir.File(other_stale)) << "x"; }

  // 1. Killed at 30 %: its temporary stays.
  const ChildResult first = SlowCopy(
      in, out, [](long long d, long long t) { return d * 10 >= t * 3; }, 20000);
  ASSERT_EQ(first.signal, SIGKILL) << first.output;
  const std::vector<std::string> stale = TemporariesOf(dir.path(), "out.tif");
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_THAT(stale[0], HasSubstr(absl::StrCat("-", first.pid, "-")));

  // 2. While a second child writes out.tif, this process starts writing it
  // too: the dead child's temporary goes, the live child's stays.
  bool checked = false;
  const ChildResult second = SlowCopy(in, out, [&](long long d, long long t) {
    if (d * 10 < t * 3) return false;
    std::unique_ptr<RasterSink> mine = MustCreate(out, MakeProfile(8, 8));
    const std::vector<std::string> now = TemporariesOf(dir.path(), "out.tif");
    EXPECT_THAT(now, ::testing::Not(::testing::Contains(stale[0]))) << "the killed run's temporary was kept";
    int live = 0, own = 0;
    for (const std::string& n : now) {
      // The second child's pid is not known here: it is the one that is not ours.
      if (absl::StrContains(n, absl::StrCat("-", ::getpid(), "-"))) {
        ++own;
      } else {
        ++live;
      }
    }
    EXPECT_EQ(own, 1);
    EXPECT_EQ(live, 1) << "the live run's temporary was removed; temporaries now: " << ::testing::PrintToString(now);
    mine->Abort();
    checked = true;
    return true;  // and kill the second child: its temporary is stale now
  }, 20000);
  ASSERT_TRUE(checked);
  ASSERT_EQ(second.signal, SIGKILL) << second.output;
  ASSERT_EQ(TemporariesOf(dir.path(), "out.tif").size(), 1u) << second.output;

  // 3. A complete run removes it, and leaves nothing else.
  const ChildResult third = SlowCopy(in, out, [](long long, long long) { return false; });
  ASSERT_TRUE(third.exited && third.exit_code == 0) << third.output;
  EXPECT_TRUE(SameBytes(ReadTiff(out), input));
  EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif", "out.tif", other_stale));
}

// The rules, on fabricated temporaries: stale only when the pid in the name is
// not a live process AND nobody holds the file's lock (a live sink on another
// machine sharing the folder, or in another pid namespace, holds its lock).
TEST(OutputsTest, ATemporaryIsStaleOnlyWhenItsProcessIsGoneAndItsLockIsFree) {
  TempDir dir;
  const std::string out = dir.File("out.tif");
  // Our own temporary tells the stem: ".out.tif.eoscale-HASH-".
  std::string stem;
  {
    std::unique_ptr<RasterSink> s = MustCreate(out, MakeProfile(8, 8));
    const std::vector<std::string> t = TemporariesOf(dir.path(), "out.tif");
    ASSERT_EQ(t.size(), 1u);
    stem = t[0].substr(0, t[0].find(absl::StrCat("-", ::getpid(), "-")) + 1);
  }
  ASSERT_THAT(stem, StartsWith(".out.tif.eoscale-"));
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);

  const std::string gone = absl::StrCat(stem, dead, "-0.tmp");        // dead, unlocked: stale
  const std::string locked = absl::StrCat(stem, dead, "-1.tmp");      // dead pid here, but locked
  const std::string alive = absl::StrCat(stem, 1, "-0.tmp");          // pid 1 lives
  const std::string not_ours = absl::StrCat(stem, dead, "-x.tmp");    // not our pattern
  const std::string other = absl::StrCat(".out.tif.eoscale-0000000000000000-", dead, "-0.tmp");  // other hash
  for (const std::string& n : {gone, locked, alive, not_ours, other}) std::ofstream(dir.File(n)) << "x";
  const int lock_fd = ::open(dir.File(locked).c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(lock_fd, 0);
  ASSERT_EQ(::flock(lock_fd, LOCK_EX), 0);

  std::unique_ptr<RasterSink> s = MustCreate(out, MakeProfile(8, 8));
  EXPECT_FALSE(Exists(dir.File(gone)));
  EXPECT_TRUE(Exists(dir.File(locked)));
  EXPECT_TRUE(Exists(dir.File(alive)));
  EXPECT_TRUE(Exists(dir.File(not_ours)));
  EXPECT_TRUE(Exists(dir.File(other)));
  s->Abort();
  // Once the lock is free, the next writer removes it.
  ::close(lock_fd);
  s = MustCreate(out, MakeProfile(8, 8));
  s->Abort();
  EXPECT_FALSE(Exists(dir.File(locked)));
  EXPECT_TRUE(Exists(dir.File(alive)));
}

// ----- Creation options and create failures ---------------------------------

TEST(OutputsTest, UnknownCreationOptionOrValueIsInvalidArgumentNamingIt) {
  TempDir dir;
  const std::string out = dir.File("out.tif");
  const Array a = RandomArray(MakeProfile(16, 16), 1);
  struct Case {
    std::string option, says;
  };
  for (const Case& c : std::vector<Case>{
           {"COMPRESS=BOGUS", "'BOGUS' is an unexpected value for COMPRESS creation option"},
           {"FOO=BAR", "driver GTiff does not support creation option FOO"},
           {"TILED=MAYBE", "'MAYBE' is an unexpected value for TILED"},
           {"NOEQUALS", "is not KEY=VALUE"},
       }) {
    SCOPED_TRACE(c.option);
    const absl::StatusOr<std::unique_ptr<RasterSink>> s = io::CreateGeoTiff(out, a.profile(), 64, 64, {c.option});
    ::testing::Test::RecordProperty("error_" + c.option, s.status().ToString());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(s.status()),
                StartsWith("cannot create '" + out + "': creation option '" + c.option + "' is not"));
    EXPECT_THAT(Msg(s.status()), HasSubstr(c.says));
    const absl::Status run = RunWrites({{&a, out}}, 64, {c.option});
    EXPECT_EQ(run.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(run), HasSubstr("'" + c.option + "'"));
    EXPECT_THAT(dir.List(), IsEmpty());
  }
  ASSERT_TRUE(RunWrites({{&a, out}}, 64, {"COMPRESS=DEFLATE", "PREDICTOR=2"}).ok());
  EXPECT_TRUE(SameBytes(ReadTiff(out), a));
}

TEST(OutputsTest, GdalCreateFailuresSayTheirCause) {
  TempDir dir;
  const std::string out = dir.File("out.tif");
  // No space: 8 TiB of uncompressed float64 (GDAL checks the free space).
  const absl::StatusOr<std::unique_ptr<RasterSink>> huge =
      io::CreateGeoTiff(out, MakeProfile(1 << 20, 1 << 20, PixelType::kF64), 256, 256);
  RecordStatus(huge.status());
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted) << huge.status();
  EXPECT_THAT(Msg(huge.status()), StartsWith("cannot create '" + out + "': "));
  EXPECT_THAT(Msg(huge.status()), HasSubstr("Free disk space"));
  // A block size GeoTIFF refuses.
  const absl::StatusOr<std::unique_ptr<RasterSink>> block =
      io::CreateGeoTiff(out, MakeProfile(64, 64), 64, 64, {"TILED=YES", "BLOCKXSIZE=17", "BLOCKYSIZE=17"});
  ::testing::Test::RecordProperty("error_block", block.status().ToString());
  EXPECT_EQ(block.status().code(), absl::StatusCode::kInvalidArgument) << block.status();
  EXPECT_THAT(Msg(block.status()), HasSubstr("Bad value 17"));
  EXPECT_THAT(dir.List(), IsEmpty());
}

// Permission: an unprivileged process (setpriv to nobody when run as root)
// writing into a read-only folder, or over a read-only file.
TEST(OutputsTest, PermissionFailuresArePermissionDenied) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const std::string in = dir.File("in.tif");
  WriteTiff(RandomArray(MakeProfile(32, 32), 1), in, 16);
  ASSERT_EQ(::chmod(in.c_str(), 0644), 0);
  ASSERT_EQ(::mkdir(dir.File("ro").c_str(), 0555), 0);
  ASSERT_EQ(::chmod(dir.File("ro").c_str(), 0555), 0);
  ASSERT_EQ(::mkdir(dir.File("rw").c_str(), 0777), 0);
  ASSERT_EQ(::chmod(dir.File("rw").c_str(), 0777), 0);
  WriteTiff(RandomArray(MakeProfile(32, 32), 2), dir.File("rw/locked.tif"), 16);
  ASSERT_EQ(::chmod(dir.File("rw/locked.tif").c_str(), 0444), 0);
  std::vector<std::string> prefix;
  if (::geteuid() == 0) {
    if (!Exists("/usr/bin/setpriv")) GTEST_SKIP() << "root, and no setpriv to drop privileges";
    prefix = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  }
  struct Case {
    std::string out, says;
  };
  for (const Case& c : std::vector<Case>{
           {dir.File("ro/out.tif"), "folder '" + dir.File("ro") + "' is not writable"},
           {dir.File("rw/locked.tif"), "the file is read-only"},
       }) {
    SCOPED_TRACE(c.out);
    std::vector<std::string> argv = prefix;
    argv.insert(argv.end(), {EOSCALE_FAULT_CHILD, in, c.out});
    const ChildResult r = RunChild(argv);
    ASSERT_TRUE(r.exited) << r.output;
    const auto status = ParseChildStatus(r.output);
    ASSERT_TRUE(status.has_value()) << r.output;
    ::testing::Test::RecordProperty("error_" + std::filesystem::path(c.out).parent_path().filename().string(),
                                    absl::StrCat(status->code, " ", status->message));
    EXPECT_EQ(static_cast<absl::StatusCode>(status->code), absl::StatusCode::kPermissionDenied) << status->message;
    EXPECT_THAT(status->message, HasSubstr("'" + c.out + "'"));
    EXPECT_THAT(status->message, HasSubstr(c.says));
  }
  EXPECT_THAT(Temporaries(dir.File("rw")), IsEmpty());
  ::chmod(dir.File("ro").c_str(), 0755);
}

}  // namespace
}  // namespace eoscale
