// GeoTiffSink's writing (gdal_sink.h): pixels into the temporary file,
// whole blocks straight to it, blocks written in parts assembled first,
// other windows through GDAL's RasterIO, one sink at a time; the kernel's
// writeback started as it goes; and Finish, which closes and fsyncs the
// file.
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
  // One row of blocks, whole in height, or any window when the tiles' rows
  // do not follow the blocks': block by block, without GDAL's cache.
  if (direct_blocks_ &&
      (assemble_rows_ || (w.y % block_h_ == 0 && w.height == std::min(block_h_, profile_.height - w.y)))) {
    return AssembleLocked(src, errors);
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

absl::Status GeoTiffSink::WriteBlockLocked(int bx, int by, const std::byte* pixels, ScopedGdalErrors& errors) {
  const size_t band_bytes = static_cast<size_t>(block_w_) * block_h_ * PixelSize(profile_.type);
  for (int b = 0; b < profile_.bands; ++b) {
    void* block = const_cast<std::byte*>(pixels + b * band_bytes);
    if (GDALWriteBlock(GDALGetRasterBand(h_, b + 1), bx, by, block) != CE_None || errors.failed()) {
      const Window bw{bx * block_w_, by * block_h_, std::min(block_w_, profile_.width - bx * block_w_),
                      std::min(block_h_, profile_.height - by * block_h_)};
      return WriteError(errors, absl::StrCat("writing '", path_, "' at ", DescribeWindow(bw)));
    }
  }
  return absl::OkStatus();
}

// A window's blocks: a block it covers whole goes straight to the file; of
// a block it covers in part, the part is kept until the windows around it
// have filled the rest (tiles of a grid that follows a mosaic's seams: in
// raster order, the next tile or two across a column seam, the next row of
// tiles across a row seam).
absl::Status GeoTiffSink::AssembleLocked(const ConstView& src, ScopedGdalErrors& errors) {
  const Window& w = src.window();
  const size_t psize = PixelSize(profile_.type);
  const size_t band_bytes = static_cast<size_t>(block_w_) * block_h_ * psize;
  const int blocks_x = (profile_.width + block_w_ - 1) / block_w_;
  for (int by = w.y / block_h_; by * block_h_ < w.y + w.height; ++by) {
    const int by0 = by * block_h_;
    for (int bx = w.x / block_w_; bx * block_w_ < w.x + w.width; ++bx) {
      const int bx0 = bx * block_w_;
      // The block in the image, and the part of it the window covers.
      const Window valid{bx0, by0, std::min(block_w_, profile_.width - bx0), std::min(block_h_, profile_.height - by0)};
      const int x0 = std::max(w.x, bx0), x1 = std::min(w.x + w.width, bx0 + valid.width);
      const int y0 = std::max(w.y, by0), y1 = std::min(w.y + w.height, by0 + valid.height);
      const Window part{x0, y0, x1 - x0, y1 - y0};
      if (part == w && w.width == block_w_ && w.height == block_h_ && src.row_stride() == block_w_) {
        // The window is one whole block, each band laid out as one: written from it.
        for (int b = 0; b < profile_.bands; ++b) {
          if (GDALWriteBlock(GDALGetRasterBand(h_, b + 1), bx, by, const_cast<void*>(src.RowPtr(b, 0))) != CE_None ||
              errors.failed()) {
            return WriteError(errors, absl::StrCat("writing '", path_, "' at ", DescribeWindow(w)));
          }
        }
        continue;
      }
      std::byte* pixels = nullptr;
      Pending* pending = nullptr;
      const int64_t key = int64_t{by} * blocks_x + bx;
      if (part == valid) {
        scratch_.assign(band_bytes * profile_.bands, std::byte{0});
        pixels = scratch_.data();
      } else {
        pending = &pending_[key];
        if (pending->pixels.empty()) pending->pixels.assign(band_bytes * profile_.bands, std::byte{0});
        pixels = pending->pixels.data();
      }
      for (int b = 0; b < profile_.bands; ++b) {
        for (int y = y0; y < y1; ++y) {
          std::memcpy(pixels + b * band_bytes + (static_cast<size_t>(y - by0) * block_w_ + (x0 - bx0)) * psize,
                      static_cast<const std::byte*>(src.RowPtr(b, y - w.y)) + static_cast<size_t>(x0 - w.x) * psize,
                      static_cast<size_t>(part.width) * psize);
        }
      }
      if (pending != nullptr) {
        pending->filled += part.Pixels();
        if (pending->filled < valid.Pixels()) continue;  // its other parts are still to come
      }
      absl::Status s = WriteBlockLocked(bx, by, pixels, errors);
      if (pending != nullptr) pending_.erase(key);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// Blocks still in part at the end (windows that did not cover the image):
// written as they are, the rest 0, in the file's order.
absl::Status GeoTiffSink::FlushPendingLocked(ScopedGdalErrors& errors) {
  std::vector<int64_t> keys;
  for (const auto& [key, unused] : pending_) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  const int blocks_x = (profile_.width + block_w_ - 1) / block_w_;
  for (int64_t key : keys) {
    const int bx = static_cast<int>(key % blocks_x), by = static_cast<int>(key / blocks_x);
    if (absl::Status s = WriteBlockLocked(bx, by, pending_[key].pixels.data(), errors); !s.ok()) return s;
  }
  pending_.clear();
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
    st = FlushPendingLocked(errors);
    GDALFlushCache(h_);
    GDALClose(h_);
    h_ = nullptr;
    if (st.ok() && errors.failed()) st = WriteError(errors, absl::StrCat("finishing '", path_, "'"));
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
