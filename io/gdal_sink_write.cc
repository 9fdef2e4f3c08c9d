// GeoTiffSink's writing (gdal_sink.h): pixels into the temporary file,
// whole blocks straight to it, other windows through GDAL's RasterIO, one
// sink at a time; the kernel's writeback started as it goes; and Finish,
// which closes and fsyncs the file.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "eoscale/io/gdal_sink.h"
#include "eoscale/io/gdal_util.h"
#include "eoscale/io/output_file.h"

namespace eoscale::io::internal {

std::mutex& SinkMutex() {
  static std::mutex mu;
  return mu;
}

absl::Status GeoTiffSink::Write(const ConstView& src) {
  absl::Status st = WriteLocked(src);
  if (st.ok() && durable_) StartWriteback(static_cast<int64_t>(src.window().Pixels()) * src.bands() * PixelSize(profile_.type));
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
void GeoTiffSink::StartWriteback(int64_t bytes) {
  static constexpr int64_t kWritebackEvery = int64_t{1} << 20;
  const int64_t now = written_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  int64_t last = kicked_.load(std::memory_order_relaxed);
  if (now - last < kWritebackEvery) return;
  if (!kicked_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;  // another thread does it
  ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);  // asynchronous; an error surfaces at the fsync
}

absl::Status GeoTiffSink::WriteLocked(const ConstView& src) {
  if (h_ == nullptr) return absl::FailedPreconditionError(absl::StrCat("'", path_, "' is closed"));
  std::lock_guard<std::mutex> lock(SinkMutex());
  errno = 0;
  ScopedGdalErrors errors;
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

absl::Status GeoTiffSink::Finish() {
  if (state_ != State::kWriting || h_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("'", path_, "' is not being written"));
  }
  absl::Status st;
  {
    std::lock_guard<std::mutex> lock(SinkMutex());
    errno = 0;
    ScopedGdalErrors errors;
    GDALFlushCache(h_);
    GDALClose(h_);
    h_ = nullptr;
    if (errors.failed()) st = WriteError(errors, absl::StrCat("finishing '", path_, "'"));
  }
  // Delayed write errors (NFS, quotas) surface here; and what Commit puts
  // in place is on the disk.
  if (st.ok() && durable_ && ::fsync(fd_) != 0) {
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

absl::Status GeoTiffSink::WriteError(const ScopedGdalErrors& errors, const std::string& what) const {
  const std::string message = WithoutTemporary(errors.message(), TempPath());
  return absl::Status(WriteErrorCode(errors.first_errno(), message), absl::StrCat(what, ": ", message));
}

}  // namespace eoscale::io::internal
