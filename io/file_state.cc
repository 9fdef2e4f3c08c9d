#include "eoscale/io/file_state.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cpl_vsi.h"
#include "eoscale/io/handle_pool.h"

namespace eoscale::io::internal {

bool IsVsiPath(const std::string& path) { return path.rfind("/vsi", 0) == 0; }

FileState StatFile(const std::string& path) {
  FileState f;
  f.vsi = IsVsiPath(path);
  if (f.vsi) {
    VSIStatBufL st;
    if (VSIStatExL(path.c_str(), &st, VSI_STAT_EXISTS_FLAG | VSI_STAT_NATURE_FLAG | VSI_STAT_SIZE_FLAG) != 0) {
      f.error = ENOENT;
      return f;
    }
    f.exists = true;
    f.mode = st.st_mode;
    f.mtime_ns = static_cast<int64_t>(st.st_mtime) * 1000000000;
    f.size = static_cast<int64_t>(st.st_size);
    return f;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    f.error = errno;
    return f;
  }
  f.exists = true;
  f.mode = st.st_mode;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  f.size = static_cast<int64_t>(st.st_size);
  return f;
}

namespace {

// "2026-12-04 19:12:36.123456789 UTC".
std::string FormatTime(int64_t ns) {
  const time_t s = static_cast<time_t>(ns / 1000000000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(ns % 1000000000));
  return absl::StrCat(buf, frac, " UTC");
}

}  // namespace

std::string DescribeChange(const FileState& before, const FileState& now) {
  if (!before.exists) return now.exists ? "it did not exist when opened and now does" : "";
  if (!now.exists) return "it no longer exists";
  std::vector<std::string> what;
  if (!before.vsi && (before.dev != now.dev || before.ino != now.ino)) {
    what.push_back(absl::StrCat("replaced by another file: device ", before.dev, " inode ", before.ino,
                                " -> device ", now.dev, " inode ", now.ino));
  }
  if ((before.mode & S_IFMT) != (now.mode & S_IFMT)) what.push_back("replaced by something that is not a file");
  if (before.mtime_ns != now.mtime_ns) {
    what.push_back(absl::StrCat("modification time ", FormatTime(before.mtime_ns), " -> ", FormatTime(now.mtime_ns)));
  }
  if (before.size != now.size) what.push_back(absl::StrCat("file size ", before.size, " -> ", now.size, " bytes"));
  return absl::StrJoin(what, "; ");
}

const char* SpecialFileKind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return nullptr;
}

bool OutOfDescriptors(int saved_errno) {
  if (saved_errno == EMFILE || saved_errno == ENFILE) return true;
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    return false;
  }
  return errno == EMFILE || errno == ENFILE;
}

std::string TooManyOpenFiles() {
  struct rlimit rl;
  std::string limit = "unknown";
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    limit = rl.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : absl::StrCat(rl.rlim_cur);
  }
  return absl::StrCat("too many open files: the process limit (ulimit -n) is ", limit,
                      " (eoscale keeps at most ", HandlePool::Global().cap(),
                      " GDAL handles open; the rest are the host's, the outputs' and GDAL's own)");
}

}  // namespace eoscale::io::internal
