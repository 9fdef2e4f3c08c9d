// Internal to io/: GDAL's RasterSink (GeoTiffSink): a tiled GeoTIFF written
// under a short temporary name beside the file it replaces, and moved into
// place at Commit so that a run's outputs appear all together or not at all
// (core/raster_io.h). Created in gdal_sink.cc, written in gdal_sink_write.cc,
// put in place (or dropped) in gdal_sink_commit.cc. Not installed.
//
// The life of the files of one sink, with T the temporary and F the final
// name, both in the output's (resolved) folder:
//   Create    T created (O_EXCL), flock()ed and given 8 placeholder bytes
//             (output_file.cc says why), then GDAL truncates and writes it
//             (a descriptor of it is closed once truncated: gdal_sink.cc)
//   Finish    GDAL closes T; T is fsync'ed (a full disk fails here), unless
//             the output is not durable (WriteOptions::durable)
//   Commit    F exists:   renameat2(T, F, RENAME_EXCHANGE): F is new, T old
//             F is new:   renameat2(T, F, RENAME_NOREPLACE)
//   Rollback  exchange back and unlink T (now the new file) / unlink F
//   Cleanup   unlink T (the old file)
//   Sync      fsync the folder (after every output's Cleanup; durable only)
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
#ifndef EOSCALE_IO_GDAL_SINK_H_
#define EOSCALE_IO_GDAL_SINK_H_

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "cpl_error.h"
#include "gdal.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/io/gdal_util.h"
#include "eoscale/io/output_file.h"

namespace eoscale::io::internal {

// GDAL's block cache is shared by every dataset. Two sinks writing through
// it at once (RasterIO into partial blocks, flushes on eviction or close)
// have been seen to lose blocks (GDAL issue #2011; TSan sees libtiff copies
// racing on one cache block). Sinks therefore write one at a time; whole
// blocks go straight to the file (GDALWriteBlock) and hold it briefly.
// (std::mutex: Debian's Abseil is not built with TSan, which would not see an
// absl::Mutex.)
std::mutex& SinkMutex();

class GeoTiffSink final : public RasterSink {
 public:
  // Takes ownership of `dirfd` (the output's folder) and `fd` (the locked
  // temporary `tmp_name` in it) and of `h` (GDAL's handle on it).
  GeoTiffSink(std::string path, OutputLocation loc, int dirfd, std::string tmp_name, int fd, GDALDatasetH h,
              Profile profile, int bw, int bh, bool direct_blocks, bool durable, bool assemble_rows = false)
      : path_(std::move(path)), loc_(std::move(loc)), dirfd_(dirfd), tmp_name_(std::move(tmp_name)), fd_(fd),
        h_(h), profile_(std::move(profile)), block_w_(bw), block_h_(bh), direct_blocks_(direct_blocks),
        assemble_rows_(assemble_rows), durable_(durable) {}
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

  // Writing (gdal_sink_write.cc).
  absl::Status Write(const ConstView& src) override;
  void StartWriteback(int64_t bytes);
  absl::Status WriteLocked(const ConstView& src);
  absl::Status Finish() override;
  // Blocks only partly written so far (gdal_sink_write.cc: AssembleLocked).
  size_t pending_blocks() const { return pending_.size(); }

  // Putting the file in place, or dropping it (gdal_sink_commit.cc).
  absl::Status Commit() override;
  void Rollback() override;
  void Cleanup() override;
  void Sync() override;
  void Abort() override;

 private:
  enum class State { kWriting, kFinished, kCommitted, kDone };
  enum class Placed { kNew, kExchanged, kBackedUp };

  std::string TempPath() const { return absl::StrCat(loc_.folder == "/" ? "" : loc_.folder, "/", tmp_name_); }

  absl::Status WriteError(const ScopedGdalErrors& errors, const std::string& what) const;
  absl::Status WriteBlockLocked(int bx, int by, const std::byte* pixels, ScopedGdalErrors& errors);
  absl::Status AssembleLocked(const ConstView& src, ScopedGdalErrors& errors);
  absl::Status FlushPendingLocked(ScopedGdalErrors& errors);
  absl::Status Committed(Placed placed);
  absl::StatusOr<bool> PlaceNew();
  absl::Status ReplaceWithBackup();
  void DropOldLock();
  void Release();

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
  bool assemble_rows_;  // every window assembled (SinkLayout::assemble_rows)
  bool durable_;  // fsync the file (Finish) and its folder (Sync); start writeback as it is written
  State state_ = State::kWriting;
  Placed placed_ = Placed::kNew;
  std::vector<std::byte> scratch_;
  // A block that windows not on the block grid (a grid following a mosaic's
  // seams) fill in parts: its pixels, every band, until all are written
  // (the next tile or two across a column seam; the next row of tiles
  // across a row seam).
  struct Pending {
    std::vector<std::byte> pixels;  // bands x block_h_ x block_w_
    int64_t filled = 0;             // pixels written so far
  };
  absl::flat_hash_map<int64_t, Pending> pending_;  // by by * blocks across + bx
  std::atomic<int64_t> written_{0};  // pixel bytes written so far
  std::atomic<int64_t> kicked_{0};   // written_ when writeback was last started
};

}  // namespace eoscale::io::internal

#endif  // EOSCALE_IO_GDAL_SINK_H_
