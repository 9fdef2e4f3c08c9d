// See output_file.h. The life of a sink's files is told in gdal_sink.h.
#include "eoscale/io/output_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "eoscale/io/gdal_raster.h"

namespace eoscale::io::internal {
namespace {
std::atomic<CommitMoves> g_commit_moves{CommitMoves::kAuto};
}  // namespace
void SetCommitMovesForTesting(CommitMoves moves) { g_commit_moves.store(moves); }

bool IsNoSpace(int e) { return e == ENOSPC || e == EDQUOT || e == EFBIG; }

// GDAL's messages say "no space" in words even when errno no longer does.
bool SaysNoSpace(const std::string& message) {
  return absl::StrContains(message, "No space left") || absl::StrContains(message, "File too large") ||
         absl::StrContains(message, "Disk quota") || absl::StrContains(message, "Free disk space");
}

// The code of a failed write, flush or close.
absl::StatusCode WriteErrorCode(int e, const std::string& message) {
  if (IsNoSpace(e) || SaysNoSpace(message)) return absl::StatusCode::kResourceExhausted;
  return absl::StatusCode::kDataLoss;
}

namespace {
// The code of a failed system call on the output's folder or files.
absl::StatusCode ErrnoCode(int e) {
  if (IsNoSpace(e) || e == EMFILE || e == ENFILE || e == ENOMEM) return absl::StatusCode::kResourceExhausted;
  switch (e) {
    case EACCES:
    case EPERM:
    case EROFS: return absl::StatusCode::kPermissionDenied;
    case ENOENT:
    case ENOTDIR: return absl::StatusCode::kNotFound;
    case ENAMETOOLONG:
    case EISDIR:
    case ELOOP: return absl::StatusCode::kInvalidArgument;
    case EIO: return absl::StatusCode::kDataLoss;
    default: return absl::StatusCode::kInternal;
  }
}
}  // namespace

absl::Status ErrnoStatus(int e, const std::string& what) {
  return absl::Status(ErrnoCode(e), absl::StrCat(what, ": ", std::strerror(e)));
}

// GDAL names the file it was given, our temporary: the user knows the
// output's path, which every message starts with.
std::string WithoutTemporary(std::string message, const std::string& tmp_path) {
  for (const std::string& from : {tmp_path + ": ", tmp_path}) {
    for (size_t at; (at = message.find(from)) != std::string::npos;) {
      message.replace(at, from.size(), from == tmp_path ? "the temporary file" : "");
    }
  }
  return message;
}

const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

// ---- Temporary names --------------------------------------------------------

namespace {
constexpr size_t kNamePrefixBytes = 64;

std::string HashOf(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}
}  // namespace

// What every temporary of the output `name` starts with: a prefix of the name
// (for people: cut at a UTF-8 character boundary) and a hash of the whole
// name (for RemoveStaleTemporaries: exact).
std::string TempStem(const std::string& name) {
  size_t cut = std::min(name.size(), kNamePrefixBytes);
  while (cut > 0 && cut < name.size() && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(".", name.substr(0, cut), ".eoscale-", HashOf(name), "-");
}

// "<stem><pid>-<n>.tmp": at most 1 + 64 + 9 + 16 + 1 + 10 + 1 + 20 + 4 = 126
// bytes, whatever the length of the name.
std::string TempName(const std::string& stem, uint64_t n) {
  return absl::StrCat(stem, static_cast<int64_t>(::getpid()), "-", n, ".tmp");
}

uint64_t NextTempNumber() {
  static std::atomic<uint64_t> counter{0};
  return counter++;
}

namespace {
// The pid in "<stem><pid>-<n>.tmp", or nullopt when `entry` is not that.
std::optional<pid_t> TempOwner(const std::string& entry, const std::string& stem) {
  if (!absl::StartsWith(entry, stem) || !absl::EndsWith(entry, ".tmp")) return std::nullopt;
  const std::string rest = entry.substr(stem.size(), entry.size() - stem.size() - 4);
  const size_t dash = rest.find('-');
  if (dash == 0 || dash == std::string::npos || dash + 1 == rest.size() || dash > 10) return std::nullopt;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (i != dash && (rest[i] < '0' || rest[i] > '9')) return std::nullopt;
  }
  return static_cast<pid_t>(std::strtoll(rest.substr(0, dash).c_str(), nullptr, 10));
}

bool ProcessIsAlive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }
}  // namespace

// Opens `name` in `dirfd` without following a symlink, for an flock() only
// (neither read nor written). -1 when it cannot be opened.
int OpenForLock(int dirfd, const char* name) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == EACCES) fd = ::openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  return fd;
}

namespace {
bool SameFile(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }
}  // namespace

// True when `name` in `dirfd` is still the file open as `fd`.
bool StillNamed(int dirfd, const std::string& name, int fd) {
  struct stat a, b;
  return ::fstat(fd, &a) == 0 && ::fstatat(dirfd, name.c_str(), &b, AT_SYMLINK_NOFOLLOW) == 0 && SameFile(a, b);
}

// Removes the temporaries of the output `name` in `dirfd` left by processes
// that are gone (killed by SIGKILL, crashed). A temporary is stale only when
// the pid in its name is not a live process here AND its flock() is free: a
// live sink holds the lock on its temporary from its creation (and on the
// replaced file it keeps for Rollback), so a temporary of a live process on
// another machine sharing the folder (NFS), or in another pid namespace, is
// kept; the pid check also covers the moments a sink does not hold a lock.
// Best effort: errors are ignored (the temporaries stay, as before).
void RemoveStaleTemporaries(int dirfd, const std::string& name) {
  const int dup_fd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return;
  DIR* d = ::fdopendir(dup_fd);
  if (d == nullptr) {
    ::close(dup_fd);
    return;
  }
  const std::string stem = TempStem(name);
  const pid_t self = ::getpid();
  std::vector<std::string> stale;
  while (const struct dirent* e = ::readdir(d)) {
    const std::string entry = e->d_name;
    const std::optional<pid_t> pid = TempOwner(entry, stem);
    if (!pid || *pid == self || *pid <= 0 || ProcessIsAlive(*pid)) continue;
    stale.push_back(entry);
  }
  ::closedir(d);
  for (const std::string& entry : stale) {
    const int fd = OpenForLock(dirfd, entry.c_str());
    if (fd < 0) continue;
    struct stat st;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        StillNamed(dirfd, entry, fd)) {
      ::unlinkat(dirfd, entry.c_str(), 0);
    }
    ::close(fd);
  }
}

// Gives `fd` the mode of `old`, and its owner and group where this process
// may (fchown fails with EPERM for an unprivileged process that is not the
// owner or not in the group: then the new file is this process's, as any
// file it creates).
absl::Status CopyOwnerAndMode(int fd, const struct stat& old, const std::string& path) {
  if (::fchown(fd, old.st_uid, old.st_gid) != 0) {
    if (errno != EPERM || ::fchown(fd, static_cast<uid_t>(-1), old.st_gid) != 0) {
      if (errno != EPERM) return ErrnoStatus(errno, absl::StrCat("cannot give '", path, "' its previous owner"));
    }
  }
  // After fchown, which may have cleared set-user-ID bits.
  if (::fchmod(fd, old.st_mode & 07777) != 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot give '", path, "' its previous mode"));
  }
  return absl::OkStatus();
}

bool Renameat2Refused(int e) { return e == EINVAL || e == ENOSYS || e == EOPNOTSUPP; }
bool HardLinksRefused(int e) { return e == EPERM || e == EOPNOTSUPP || e == ENOSYS || e == EMLINK || e == EXDEV; }

int Renameat2(int dirfd, const std::string& from, const std::string& to, unsigned flags) {
  if (g_commit_moves.load() != CommitMoves::kAuto) {
    errno = EINVAL;
    return -1;
  }
  return ::renameat2(dirfd, from.c_str(), dirfd, to.c_str(), flags);
}

int Linkat(int dirfd, const std::string& from, const std::string& to) {
  if (g_commit_moves.load() == CommitMoves::kNoHardLinks) {
    errno = EPERM;
    return -1;
  }
  return ::linkat(dirfd, from.c_str(), dirfd, to.c_str(), 0);
}

// Creates the temporary file for the output `name` in `dirfd`, holding 8
// placeholder bytes, flock()ed. Returns its name and descriptor.
absl::StatusOr<std::pair<std::string, int>> CreateTemporary(int dirfd, const OutputLocation& loc,
                                                            const std::string& path) {
  const std::string stem = TempStem(loc.name);
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string tmp = TempName(stem, NextTempNumber());
    const int fd = ::openat(dirfd, tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return ErrnoStatus(errno, absl::StrCat("cannot create '", path, "': cannot create a temporary file in folder '",
                                             loc.folder, "'"));
    }
    // Blocking: another process's RemoveStaleTemporaries holds it only for a
    // moment. If it removed the file before we held the lock, start again.
    while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    if (!StillNamed(dirfd, tmp, fd)) {
      ::close(fd);
      continue;
    }
    // Not empty: GDALDriver::Create first asks every driver whether it knows
    // the file it is about to replace, and on an empty file some driver's
    // answer loads PROJ's database (measured: 85-120 ms for the first output
    // of a process, ~10 ms for each next one; 0.5 ms on 8 bytes). GDAL
    // truncates the file and writes it from the start.
    static constexpr char kPlaceholder[8] = {};
    if (::pwrite(fd, kPlaceholder, sizeof kPlaceholder, 0) != static_cast<ssize_t>(sizeof kPlaceholder)) {
      const int e = errno;
      ::unlinkat(dirfd, tmp.c_str(), 0);
      ::close(fd);
      return ErrnoStatus(e, absl::StrCat("cannot create '", path, "': cannot write a temporary file in folder '",
                                         loc.folder, "'"));
    }
    return std::make_pair(std::move(tmp), fd);
  }
  return absl::AbortedError(absl::StrCat("cannot create '", path, "': no free temporary name in '", loc.folder, "'"));
}


}  // namespace eoscale::io::internal
