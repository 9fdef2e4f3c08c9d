// GDAL's RasterSink: a tiled GeoTIFF written under a short temporary name
// beside the file it replaces, and moved into place at Commit so that a run's
// outputs appear all together or not at all (core/raster_io.h).
//
// The life of the files of one sink, with T the temporary and F the final
// name, both in the output's (resolved) folder:
//   Create    T created (O_EXCL), flock()ed and given 8 placeholder bytes
//             (output_file.cc says why), then GDAL truncates and writes it
//   Finish    GDAL closes T; T is fsync'ed (a full disk fails here)
//   Commit    F exists:   renameat2(T, F, RENAME_EXCHANGE): F is new, T old
//             F is new:   renameat2(T, F, RENAME_NOREPLACE)
//   Rollback  exchange back and unlink T (now the new file) / unlink F
//   Cleanup   unlink T (the old file)
//   Sync      fsync the folder (after every output's Cleanup)
//   Abort     unlink T
// File systems without renameat2's flags (EINVAL: some network and FUSE file
// systems, kernels before 3.15 (ENOSYS)) fall back on a hard link of the old
// file under a second temporary name B, then rename(T, F), which replaces F
// atomically: Rollback renames B back over F. Without hard links either
// (EPERM/EOPNOTSUPP: FAT, SMB), F is renamed to B and then T to F: the one
// window left, between those two renames, in which F does not exist (a
// crash there leaves the old file under B and the new under T, both whole).
// A new file is linked into place (link(T, F) fails if F appeared), or
// without hard links renamed after a check (a file created under F between
// the check and the rename would be replaced). docs/errors.md says the same.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
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
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cpl_conv.h"
#include "cpl_string.h"
#include "eoscale/core/file_identity.h"
#include "eoscale/io/gdal_raster.h"
#include "eoscale/io/gdal_util.h"
#include "eoscale/io/output_file.h"

namespace eoscale::io {
namespace {

using internal::CopyOwnerAndMode;
using internal::CreateTemporary;
using internal::ErrnoStatus;
using internal::HardLinksRefused;
using internal::IsNoSpace;
using internal::KindOf;
using internal::Linkat;
using internal::NextTempNumber;
using internal::OpenForLock;
using internal::RemoveStaleTemporaries;
using internal::Renameat2;
using internal::Renameat2Refused;
using internal::SaysNoSpace;
using internal::StillNamed;
using internal::TempName;
using internal::TempStem;
using internal::WithoutTemporary;
using internal::ToGdal;
using internal::WriteErrorCode;

// GDAL's block cache is shared by every dataset. Two sinks writing through
// it at once (RasterIO into partial blocks, flushes on eviction or close)
// have been seen to lose blocks (GDAL issue #2011; TSan sees libtiff copies
// racing on one cache block). Sinks therefore write one at a time; whole
// blocks go straight to the file (GDALWriteBlock) and hold it briefly.
// (std::mutex: Debian's Abseil is not built with TSan, which would not see an
// absl::Mutex.)
std::mutex& SinkMutex() {
  static std::mutex mu;
  return mu;
}

// GDAL's errors and warnings during one call on this thread, with the errno
// seen when the first error was reported (GDAL leaves the cause of a failed
// write there, e.g. ENOSPC or EFBIG, and later calls may overwrite it).
// Set errno to 0 before the call.
class SinkErrors {
 public:
  SinkErrors() { CPLPushErrorHandlerEx(&Handler, this); }
  ~SinkErrors() { CPLPopErrorHandler(); }
  SinkErrors(const SinkErrors&) = delete;
  SinkErrors& operator=(const SinkErrors&) = delete;

  bool failed() const { return failed_; }
  int first_errno() const { return errno_; }
  std::string message() const { return message_.empty() ? "unknown GDAL error" : message_; }
  const std::string& warnings() const { return warnings_; }

 private:
  static void CPL_STDCALL Handler(CPLErr level, CPLErrorNum, const char* msg) {
    const int e = errno;
    auto* self = static_cast<SinkErrors*>(CPLGetErrorHandlerUserData());
    std::string& to = level >= CE_Failure ? self->message_ : self->warnings_;
    if (level >= CE_Failure) {
      if (!self->failed_) self->errno_ = e;
      self->failed_ = true;
    } else if (level != CE_Warning) {
      return;  // debug messages
    }
    if (!to.empty()) to += "; ";
    to += msg;
    errno = e;
  }
  bool failed_ = false;
  int errno_ = 0;
  std::string message_;
  std::string warnings_;
};

class GeoTiffSink final : public RasterSink {
 public:
  // Takes ownership of `dirfd` (the output's folder) and `fd` (the locked
  // temporary `tmp_name` in it) and of `h` (GDAL's handle on it).
  GeoTiffSink(std::string path, OutputLocation loc, int dirfd, std::string tmp_name, int fd, GDALDatasetH h,
              Profile profile, int bw, int bh, bool direct_blocks)
      : path_(std::move(path)), loc_(std::move(loc)), dirfd_(dirfd), tmp_name_(std::move(tmp_name)), fd_(fd),
        h_(h), profile_(std::move(profile)), block_w_(bw), block_h_(bh), direct_blocks_(direct_blocks) {}
  // A sink dropped while committed keeps its commit (the engine was told it
  // succeeded); otherwise it aborts.
  ~GeoTiffSink() override {
    if (state_ == State::kCommitted) {
      Cleanup();
    } else {
      Abort();
    }
    Sync();
    if (dirfd_ >= 0) ::close(dirfd_);
  }

  const std::string& path() const override { return path_; }
  std::string target() const override { return loc_.path(); }
  std::string finished_path() const override { return state_ == State::kFinished ? TempPath() : std::string(); }

  absl::Status Write(const ConstView& src) override {
    absl::Status st = WriteLocked(src);
    if (st.ok()) StartWriteback(static_cast<int64_t>(src.window().Pixels()) * src.bands() * PixelSize(profile_.type));
    return st;
  }

  // Finish fsyncs the file (a full disk, NFS or a quota fails there, and
  // what Commit puts in place is on the disk). So that this costs the run
  // little at its end, the kernel is asked to start writing the file back
  // every MiB written, while the run computes (the disk is idle
  // otherwise): Finish then waits for the last MiB and GDAL's directory
  // only. Measured on the 10980^2 water mask (116 MiB written): the final
  // fsync took 34-64 ms of the run's wall time without this, 30-36 ms
  // with a kick every 8 MiB, 11-32 ms every MiB.
  void StartWriteback(int64_t bytes) {
    static constexpr int64_t kWritebackEvery = int64_t{1} << 20;
    const int64_t now = written_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    int64_t last = kicked_.load(std::memory_order_relaxed);
    if (now - last < kWritebackEvery) return;
    if (!kicked_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;  // another thread does it
    ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);  // asynchronous; an error surfaces at the fsync
  }

  absl::Status WriteLocked(const ConstView& src) {
    if (h_ == nullptr) return absl::FailedPreconditionError(absl::StrCat("'", path_, "' is closed"));
    std::lock_guard<std::mutex> lock(SinkMutex());
    errno = 0;
    SinkErrors errors;
    const Window& w = src.window();
    const int psize = static_cast<int>(PixelSize(profile_.type));
    if (direct_blocks_ && w.x % block_w_ == 0 && w.y % block_h_ == 0 &&
        w.width == std::min(block_w_, profile_.width - w.x) &&
        w.height == std::min(block_h_, profile_.height - w.y)) {
      const bool full = w.width == block_w_ && w.height == block_h_ && src.row_stride() == block_w_;
      if (!full) scratch_.assign(static_cast<size_t>(block_w_) * block_h_ * psize, std::byte{0});
      for (int b = 0; b < src.bands(); ++b) {
        void* block = const_cast<void*>(src.RowPtr(b, 0));
        if (!full) {
          for (int y = 0; y < w.height; ++y) {
            std::memcpy(scratch_.data() + static_cast<size_t>(y) * block_w_ * psize, src.RowPtr(b, y),
                        static_cast<size_t>(w.width) * psize);
          }
          block = scratch_.data();
        }
        if (GDALWriteBlock(GDALGetRasterBand(h_, b + 1), w.x / block_w_, w.y / block_h_, block) != CE_None) {
          return WriteError(errors, absl::StrCat("writing '", path_, "' at ", DescribeWindow(w)));
        }
      }
      return absl::OkStatus();
    }
    GDALRasterIOExtraArg extra;
    INIT_RASTERIO_EXTRA_ARG(extra);
    const CPLErr err = GDALDatasetRasterIOEx(
        h_, GF_Write, w.x, w.y, w.width, w.height, const_cast<void*>(src.data()), w.width, w.height,
        ToGdal(profile_.type), src.bands(), nullptr, psize, static_cast<GSpacing>(src.row_stride()) * psize,
        static_cast<GSpacing>(src.band_stride()) * psize, &extra);
    if (err != CE_None || errors.failed()) {
      return WriteError(errors, absl::StrCat("writing '", path_, "' at ", DescribeWindow(w)));
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (state_ != State::kWriting || h_ == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("'", path_, "' is not being written"));
    }
    absl::Status st;
    {
      std::lock_guard<std::mutex> lock(SinkMutex());
      errno = 0;
      SinkErrors errors;
      GDALFlushCache(h_);
      GDALClose(h_);
      h_ = nullptr;
      if (errors.failed()) st = WriteError(errors, absl::StrCat("finishing '", path_, "'"));
    }
    // Delayed write errors (NFS, quotas) surface here; and what Commit puts
    // in place is on the disk.
    if (st.ok() && ::fsync(fd_) != 0) {
      const int e = errno;
      st = absl::Status(WriteErrorCode(e, ""), absl::StrCat("finishing '", path_, "': ", std::strerror(e)));
    }
    if (st.ok() && !StillNamed(dirfd_, tmp_name_, fd_)) {
      st = absl::DataLossError(absl::StrCat("finishing '", path_, "': its temporary file '", TempPath(),
                                            "' was removed or replaced during the run"));
    }
    if (!st.ok()) {
      Abort();
      return st;
    }
    state_ = State::kFinished;
    return absl::OkStatus();
  }

  absl::Status Commit() override {
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

  void Rollback() override {
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

  void Cleanup() override {
    if (state_ != State::kCommitted) return;
    if (placed_ == Placed::kExchanged) ::unlinkat(dirfd_, tmp_name_.c_str(), 0);
    if (placed_ == Placed::kBackedUp) ::unlinkat(dirfd_, backup_name_.c_str(), 0);
    sync_folder_ = true;  // Sync: the rename is durable too
    Release();
  }

  // After every output's Cleanup (CommitAll): the first folder fsync writes
  // the renames and unlinks of all outputs in that folder; the next ones
  // find nothing left to write. Three outputs in one folder synced each
  // after its own unlink waited 8, 31 and ~10 ms.
  void Sync() override {
    if (!sync_folder_) return;
    sync_folder_ = false;
    ::fsync(dirfd_);
  }

  void Abort() override {
    if (state_ == State::kCommitted) {
      Rollback();
      return;
    }
    if (h_ != nullptr) {
      std::lock_guard<std::mutex> lock(SinkMutex());
      SinkErrors errors;  // swallowed: we are dropping the file anyway
      GDALClose(h_);
      h_ = nullptr;
    }
    if (state_ == State::kWriting || state_ == State::kFinished) {
      if (fd_ >= 0 && StillNamed(dirfd_, tmp_name_, fd_)) ::unlinkat(dirfd_, tmp_name_.c_str(), 0);
      Release();
    }
  }

 private:
  enum class State { kWriting, kFinished, kCommitted, kDone };
  enum class Placed { kNew, kExchanged, kBackedUp };

  std::string TempPath() const { return absl::StrCat(loc_.folder == "/" ? "" : loc_.folder, "/", tmp_name_); }

  absl::Status WriteError(const SinkErrors& errors, const std::string& what) const {
    const std::string message = WithoutTemporary(errors.message(), TempPath());
    return absl::Status(WriteErrorCode(errors.first_errno(), message), absl::StrCat(what, ": ", message));
  }

  absl::Status Committed(Placed placed) {
    placed_ = placed;
    state_ = State::kCommitted;
    return absl::OkStatus();
  }

  // Moves the temporary to the final name, which did not exist a moment ago.
  // False when a file appeared under it meanwhile (nothing moved).
  absl::StatusOr<bool> PlaceNew() {
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
  absl::Status ReplaceWithBackup() {
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

  void DropOldLock() {
    if (old_fd_ >= 0) ::close(old_fd_);
    old_fd_ = -1;
  }

  // Closes the files this sink holds (and so drops its locks).
  void Release() {
    DropOldLock();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    state_ = State::kDone;
  }

  std::string path_;   // as the user gave it (messages)
  OutputLocation loc_; // where it lands (symlinks followed)
  int dirfd_;          // loc_.folder, open: renames stay in it whatever happens to its path
  std::string tmp_name_;
  int fd_;              // the temporary (then new) file, flock()ed while this sink lives
  int old_fd_ = -1;     // the replaced file, flock()ed from Commit to Cleanup/Rollback
  bool sync_folder_ = false;  // Cleanup done, its folder not fsync'ed yet (Sync)
  std::string backup_name_;  // Placed::kBackedUp: where the replaced file is
  GDALDatasetH h_;
  Profile profile_;
  int block_w_, block_h_;
  bool direct_blocks_;
  State state_ = State::kWriting;
  Placed placed_ = Placed::kNew;
  std::vector<std::byte> scratch_;
  std::atomic<int64_t> written_{0};  // pixel bytes written so far
  std::atomic<int64_t> kicked_{0};   // written_ when writeback was last started
};

// The code and message of a failed GDALCreate.
absl::Status CreateError(const SinkErrors& errors, const std::string& path, const std::string& tmp_path) {
  const int e = errors.first_errno();
  const std::string message = WithoutTemporary(errors.message(), tmp_path);
  absl::StatusCode code = absl::StatusCode::kInvalidArgument;  // GDAL refused the parameters
  if (IsNoSpace(e) || SaysNoSpace(message) || e == EMFILE || e == ENFILE) {
    code = absl::StatusCode::kResourceExhausted;
  } else if (e == EACCES || e == EPERM || e == EROFS) {
    code = absl::StatusCode::kPermissionDenied;
  }
  return absl::Status(code, absl::StrCat("cannot create '", path, "': ", message));
}

}  // namespace

absl::Status CheckCreationOptions(const std::vector<std::string>& options) {
  EnsureGdalInitialized();
  GDALDriverH driver = GDALGetDriverByName("GTiff");
  for (const std::string& o : options) {
    const size_t eq = o.find('=');
    if (eq == 0 || eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("creation option '", o, "' is not KEY=VALUE"));
    }
    const char* one[] = {o.c_str(), nullptr};
    SinkErrors errors;
    if (!GDALValidateCreationOptions(driver, one)) {
      const std::string why = !errors.warnings().empty() ? errors.warnings() : errors.message();
      return absl::InvalidArgumentError(
          absl::StrCat("creation option '", o, "' is not valid for GeoTIFF: ", why));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckWritable(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("output path is empty");
  if (IsVirtualPath(path)) {
    return absl::UnimplementedError(absl::StrCat(
        "cannot write '", path, "': outputs are local files (GDAL virtual file systems are for inputs)"));
  }
  absl::StatusOr<OutputLocation> loc = ResolveOutputPath(path);
  if (!loc.ok()) return loc.status();
  const std::string target = loc->path();
  const std::string shown = target == path ? absl::StrCat("'", path, "'")
                                           : absl::StrCat("'", path, "' (which leads to '", target, "')");
  long name_max = ::pathconf(loc->folder.c_str(), _PC_NAME_MAX);
  if (name_max <= 0) name_max = NAME_MAX;
  if (loc->name.size() > static_cast<size_t>(name_max)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write ", shown, ": its name is ", loc->name.size(),
                                                   " bytes long, and the file system allows at most ", name_max));
  }
  struct stat st;
  if (::stat(target.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::InvalidArgumentError(absl::StrCat("output path ", shown, " is a folder"));
    if (!S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat("output path ", shown, " is ", KindOf(st.st_mode),
                                                     ", not a regular file: refusing to replace it with a file"));
    }
  } else if (errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("cannot write ", shown));
  }
  if (::access(loc->folder.c_str(), W_OK) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", shown, ": folder '", loc->folder, "' is not writable"));
  }
  if (::access(target.c_str(), F_OK) == 0 && ::access(target.c_str(), W_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", shown, ": the file is read-only"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RasterSink>> CreateGeoTiff(const std::string& path, const Profile& profile,
                                                          int block_width, int block_height,
                                                          const std::vector<std::string>& options) {
  EnsureGdalInitialized();
  if (absl::Status s = CheckWritable(path); !s.ok()) return s;
  for (const std::vector<std::string>* list : {&profile.writer_options, &options}) {
    if (absl::Status s = CheckCreationOptions(*list); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot create '", path, "': ", s.message()));
    }
  }
  absl::StatusOr<OutputLocation> loc = ResolveOutputPath(path);
  if (!loc.ok()) return loc.status();

  GDALDriverH driver = GDALGetDriverByName("GTiff");
  const bool strips = block_width >= profile.width;
  bool direct = false;
  char** opts = nullptr;
  if (strips) {
    block_width = profile.width;
    block_height = std::max(1, std::min(block_height, profile.height));
    opts = CSLSetNameValue(opts, "BLOCKYSIZE", absl::StrCat(block_height).c_str());
    direct = true;
  } else {
    if (block_width % 16 != 0 || block_height % 16 != 0) {
      block_width = block_height = 256;
    } else {
      direct = true;
    }
    opts = CSLSetNameValue(opts, "TILED", "YES");
    opts = CSLSetNameValue(opts, "BLOCKXSIZE", absl::StrCat(block_width).c_str());
    opts = CSLSetNameValue(opts, "BLOCKYSIZE", absl::StrCat(block_height).c_str());
  }
  if (profile.bands > 1) opts = CSLSetNameValue(opts, "INTERLEAVE", "BAND");
  if (profile.type == PixelType::kI8) opts = CSLSetNameValue(opts, "PIXELTYPE", "SIGNEDBYTE");
  bool user_layout = false;
  auto apply = [&](const std::vector<std::string>& list) {
    for (const std::string& o : list) {
      char* key = nullptr;
      const char* value = CPLParseNameValue(o.c_str(), &key);
      if (key != nullptr && value != nullptr) {
        const std::string k = key;
        if (k == "TILED" || k == "BLOCKXSIZE" || k == "BLOCKYSIZE" || k == "INTERLEAVE") user_layout = true;
        opts = CSLSetNameValue(opts, key, value);
      }
      CPLFree(key);
    }
  };
  apply(profile.writer_options);
  apply(options);
  if (user_layout) direct = false;  // the layout is the user's: go through RasterIO

  const int dirfd = ::open(loc->folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    const int e = errno;
    CSLDestroy(opts);
    return ErrnoStatus(e, absl::StrCat("cannot create '", path, "': cannot open folder '", loc->folder, "'"));
  }
  RemoveStaleTemporaries(dirfd, loc->name);
  absl::StatusOr<std::pair<std::string, int>> tmp = CreateTemporary(dirfd, *loc, path);
  if (!tmp.ok()) {
    CSLDestroy(opts);
    ::close(dirfd);
    return tmp.status();
  }
  // Plain variables, not a structured binding: clang 14 cannot capture one.
  const std::string tmp_name = std::move(tmp->first);
  const int fd = tmp->second;
  auto drop = [&] {
    ::unlinkat(dirfd, tmp_name.c_str(), 0);
    ::close(fd);
    ::close(dirfd);
  };
  // While the new pixels are written, nobody may read them who could not
  // read the file they replace (a 0600 file's new version must not sit in a
  // 0644 temporary): its group and other bits at most, and read-write for
  // this process, which GDAL needs. Commit sets the exact mode and owner.
  struct stat old;
  if (::fstatat(dirfd, loc->name.c_str(), &old, 0) == 0 && S_ISREG(old.st_mode)) {
    ::fchmod(fd, (old.st_mode & 0777) | S_IRUSR | S_IWUSR);
  }
  const std::string tmp_path = absl::StrCat(loc->folder == "/" ? "" : loc->folder, "/", tmp_name);
  SinkErrors errors;
  errno = 0;
  GDALDatasetH h = GDALCreate(driver, tmp_path.c_str(), profile.width, profile.height, profile.bands,
                              ToGdal(profile.type), opts);
  CSLDestroy(opts);
  if (h == nullptr) {
    drop();
    return CreateError(errors, path, tmp_path);
  }
  // GDAL truncates and writes the empty file we created (and lock); were it
  // to replace it, the lock would protect nothing.
  if (!StillNamed(dirfd, tmp_name, fd)) {
    GDALClose(h);
    drop();
    return absl::InternalError(absl::StrCat("cannot create '", path, "': GDAL replaced its temporary file"));
  }
  double gt6[6];
  for (int i = 0; i < 6; ++i) gt6[i] = profile.geotransform[i];
  GDALSetGeoTransform(h, gt6);
  if (!profile.crs_wkt.empty()) GDALSetProjection(h, profile.crs_wkt.c_str());
  if (profile.nodata) {
    for (int b = 1; b <= profile.bands; ++b) GDALSetRasterNoDataValue(GDALGetRasterBand(h, b), *profile.nodata);
  }
  if (errors.failed()) {
    GDALClose(h);
    drop();
    return absl::InvalidArgumentError(
        absl::StrCat("cannot set up '", path, "': ", WithoutTemporary(errors.message(), tmp_path)));
  }
  return std::unique_ptr<RasterSink>(new GeoTiffSink(path, *std::move(loc), dirfd, std::move(tmp_name), fd, h,
                                                     profile, block_width, block_height, direct));
}

}  // namespace eoscale::io
