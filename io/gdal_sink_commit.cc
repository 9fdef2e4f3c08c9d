// GeoTiffSink's moves (gdal_sink.h tells the life of a sink's files):
// Commit puts the finished temporary in place (renameat2, or the fallbacks
// with a hard link or a backup name), Rollback undoes it, Cleanup drops the
// replaced file, Sync fsyncs the folder, Abort drops the temporary.
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "eoscale/io/gdal_sink.h"
#include "eoscale/io/output_file.h"

namespace eoscale::io::internal {

absl::Status GeoTiffSink::Commit() {
  if (state_ != State::kFinished) {
    return absl::FailedPreconditionError(absl::StrCat("'", path_, "' is not finished"));
  }
  if (!StillNamed(dirfd_, tmp_name_, fd_)) {
    return absl::DataLossError(absl::StrCat("cannot commit '", path_, "': its temporary file '", TempPath(),
                                            "' was removed or replaced"));
  }
  const std::string& name = loc_.name;
  for (int attempt = 0; attempt < 3; ++attempt) {
    struct stat cur;
    if (::fstatat(dirfd_, name.c_str(), &cur, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) return ErrnoStatus(errno, absl::StrCat("cannot commit '", path_, "'"));
      absl::StatusOr<bool> placed = PlaceNew();
      if (!placed.ok()) return placed.status();
      if (*placed) return Committed(Placed::kNew);
      continue;  // a file appeared under the name meanwhile: replace it
    }
    if (!S_ISREG(cur.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat("cannot commit '", path_, "': '", loc_.path(),
                                                        "' became ", KindOf(cur.st_mode), " during the run"));
    }
    if (absl::Status s = CopyOwnerAndMode(fd_, cur, path_); !s.ok()) return s;
    old_fd_ = OpenForLock(dirfd_, name.c_str());
    if (old_fd_ >= 0) ::flock(old_fd_, LOCK_EX | LOCK_NB);  // best effort: the pid in the name protects too
    if (Renameat2(dirfd_, tmp_name_, name, RENAME_EXCHANGE) == 0) return Committed(Placed::kExchanged);
    const int e = errno;
    if (!Renameat2Refused(e)) {
      DropOldLock();
      return ErrnoStatus(e, absl::StrCat("cannot move the finished file '", TempPath(), "' to '", path_, "'"));
    }
    return ReplaceWithBackup();
  }
  return absl::AbortedError(absl::StrCat("cannot commit '", path_, "': the file keeps appearing and vanishing"));
}

void GeoTiffSink::Rollback() {
  if (state_ != State::kCommitted) return;
  const std::string& name = loc_.name;
  switch (placed_) {
    case Placed::kExchanged:
      // The old file is under the temporary name, the new one under the
      // final name: swap them back and drop the new one.
      if (::renameat2(dirfd_, tmp_name_.c_str(), dirfd_, name.c_str(), RENAME_EXCHANGE) == 0) {
        ::unlinkat(dirfd_, tmp_name_.c_str(), 0);
      }
      break;
    case Placed::kBackedUp:
      ::renameat(dirfd_, backup_name_.c_str(), dirfd_, name.c_str());  // the new file goes with it
      break;
    case Placed::kNew:
      if (StillNamed(dirfd_, name, fd_)) ::unlinkat(dirfd_, name.c_str(), 0);
      break;
  }
  Release();
}

void GeoTiffSink::Cleanup() {
  if (state_ != State::kCommitted) return;
  if (placed_ == Placed::kExchanged) ::unlinkat(dirfd_, tmp_name_.c_str(), 0);
  if (placed_ == Placed::kBackedUp) ::unlinkat(dirfd_, backup_name_.c_str(), 0);
  sync_folder_ = durable_;  // Sync: the rename is durable too
  Release();
}

// After every output's Cleanup (CommitAll): the first folder fsync writes
// the renames and unlinks of all outputs in that folder; the next ones
// find nothing left to write. Three outputs in one folder synced each
// after its own unlink waited 8, 31 and ~10 ms.
void GeoTiffSink::Sync() {
  if (!sync_folder_) return;
  sync_folder_ = false;
  ::fsync(dirfd_);
}

void GeoTiffSink::Abort() {
  if (state_ == State::kCommitted) {
    Rollback();
    return;
  }
  if (h_ != nullptr) {
    std::lock_guard<std::mutex> lock(SinkMutex());
    ScopedGdalErrors errors;  // swallowed: we are dropping the file anyway
    GDALClose(h_);
    h_ = nullptr;
  }
  pending_.clear();
  if (state_ == State::kWriting || state_ == State::kFinished) {
    if (fd_ >= 0 && StillNamed(dirfd_, tmp_name_, fd_)) ::unlinkat(dirfd_, tmp_name_.c_str(), 0);
    Release();
  }
}

absl::Status GeoTiffSink::Committed(Placed placed) {
  placed_ = placed;
  state_ = State::kCommitted;
  return absl::OkStatus();
}

// Moves the temporary to the final name, which did not exist a moment ago.
// False when a file appeared under it meanwhile (nothing moved).
absl::StatusOr<bool> GeoTiffSink::PlaceNew() {
  const std::string& name = loc_.name;
  if (Renameat2(dirfd_, tmp_name_, name, RENAME_NOREPLACE) == 0) return true;
  int e = errno;
  if (e == EEXIST) return false;
  if (Renameat2Refused(e)) {
    // No renameat2: link(2) refuses an existing name just as atomically.
    if (Linkat(dirfd_, tmp_name_, name) == 0) {
      ::unlinkat(dirfd_, tmp_name_.c_str(), 0);
      return true;
    }
    e = errno;
    if (e == EEXIST) return false;
    if (HardLinksRefused(e)) {
      // Neither: check, then rename (a file created under the name between
      // the two would be replaced).
      struct stat st;
      if (::fstatat(dirfd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return false;
      if (::renameat(dirfd_, tmp_name_.c_str(), dirfd_, name.c_str()) == 0) return true;
      e = errno;
    }
  }
  return ErrnoStatus(e, absl::StrCat("cannot move the finished file '", TempPath(), "' to '", path_, "'"));
}

// Replaces the existing final file where renameat2 is refused: the old
// file is kept under a second temporary name (a hard link, or renamed
// there when the file system has no hard links), then the new one is
// renamed over the final name.
absl::Status GeoTiffSink::ReplaceWithBackup() {
  const std::string& name = loc_.name;
  const std::string stem = TempStem(name);
  bool linked = false;
  for (int i = 0; i < 100 && !linked; ++i) {
    backup_name_ = TempName(stem, NextTempNumber());
    if (Linkat(dirfd_, name, backup_name_) == 0) {
      linked = true;
      break;
    }
    const int e = errno;
    if (e == EEXIST) continue;
    if (!HardLinksRefused(e)) {
      DropOldLock();
      return ErrnoStatus(e, absl::StrCat("cannot keep a copy of '", path_, "' before replacing it"));
    }
    break;
  }
  if (linked) {
    if (::renameat(dirfd_, tmp_name_.c_str(), dirfd_, name.c_str()) == 0) return Committed(Placed::kBackedUp);
    const int e = errno;
    ::unlinkat(dirfd_, backup_name_.c_str(), 0);
    DropOldLock();
    return ErrnoStatus(e, absl::StrCat("cannot move the finished file '", TempPath(), "' to '", path_, "'"));
  }
  // No hard links: the window in which the final name does not exist.
  struct stat st;
  while (::fstatat(dirfd_, backup_name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    backup_name_ = TempName(stem, NextTempNumber());
  }
  if (::renameat(dirfd_, name.c_str(), dirfd_, backup_name_.c_str()) != 0) {
    const int e = errno;
    DropOldLock();
    return ErrnoStatus(e, absl::StrCat("cannot move '", path_, "' aside before replacing it"));
  }
  if (::renameat(dirfd_, tmp_name_.c_str(), dirfd_, name.c_str()) != 0) {
    const int e = errno;
    ::renameat(dirfd_, backup_name_.c_str(), dirfd_, name.c_str());
    DropOldLock();
    return ErrnoStatus(e, absl::StrCat("cannot move the finished file '", TempPath(), "' to '", path_, "'"));
  }
  return Committed(Placed::kBackedUp);
}

void GeoTiffSink::DropOldLock() {
  if (old_fd_ >= 0) ::close(old_fd_);
  old_fd_ = -1;
}

// Closes the files this sink holds (and so drops its locks).
void GeoTiffSink::Release() {
  DropOldLock();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  state_ = State::kDone;
}

}  // namespace eoscale::io::internal
