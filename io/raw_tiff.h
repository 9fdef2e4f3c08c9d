// Direct reads of an uncompressed GeoTIFF's blocks (internal to io/).
//
// An uncompressed GeoTIFF's blocks are the pixels themselves at known file
// offsets. Through GDAL a tile that is not exactly one block costs a copy
// more (the block is read whole, then the tile's part copied out), and a
// pixel-interleaved file is de-interleaved by GDAL's generic strided copy
// (GDALCopyWords), most of the water mask's time on such inputs. Here the
// kernel copies each wanted row of a band-interleaved block straight into
// the tile (one preadv per block, gaps read into a small junk buffer), and
// a pixel-interleaved block's wanted rows are read once and de-interleaved
// by a loop specialised on the pixel size.
//
// Only files where this is exactly what GDAL would return are read so:
// the GTiff driver on a regular local file, no compression, every selected
// band of the source's pixel type in whole bytes (no NBITS), little-endian
// (as this host), TIFF or BigTIFF. The block offsets and byte counts are
// read once, from the file's first directory (GDAL's image), for the planes
// read (the selected bands, or the one plane of a pixel-interleaved file),
// and checked against what GDAL reports for the first and last blocks of
// each (the "TIFF" metadata domain's BLOCK_OFFSET_x_y and BLOCK_SIZE_x_y);
// at most kMaxTableEntries of them, else GDAL reads the file. What is kept
// is small: the byte counts are checked once (a block holding fewer rows
// than the image has there is kept as one this reader cannot read), and a
// plane whose offsets are affine in the block's column and row (GDAL lays
// an uncompressed file out so) keeps three numbers; another keeps 8 bytes
// a block. Reads then need no GDAL handle, only a descriptor: a handle on a
// 10980^2 four-band file holds about 160 KiB, and a run kept one per source
// and reading thread. A block the file has no bytes for (a sparse file) or
// fewer than expected makes the read fall back to GDAL. The descriptor must
// be the file the source opened (same device and inode: OpenFd).
#ifndef EOSCALE_IO_RAW_TIFF_H_
#define EOSCALE_IO_RAW_TIFF_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eoscale/core/pixel_type.h"
#include "eoscale/core/view.h"
#include "gdal.h"

namespace eoscale::io::internal {

class RawTiffReader {
 public:
  // A reader for `bands` (1-based) of the file `path`, opened by GDAL as `h`
  // and stat'ed as (dev, ino) when the source was opened; nullptr when the
  // file is not one this reader serves exactly (see above) or cannot be
  // opened (GDAL then reads it, as before).
  static std::unique_ptr<RawTiffReader> Probe(GDALDatasetH h, const std::string& path, dev_t dev, ino_t ino,
                                              const std::vector<int>& bands, PixelType type);
  RawTiffReader(const RawTiffReader&) = delete;
  RawTiffReader& operator=(const RawTiffReader&) = delete;

  enum class Outcome { kRead, kFallBack, kFailed };
  // Reads dst.window() of the selected bands into dst (band i of dst is
  // bands[i]) from `fd`, a descriptor of the file (OpenFd). Thread-safe.
  // kFallBack: a block is not where this reader can read it (nothing is
  // promised about dst then; read it through GDAL). kFailed: *error says
  // why (an I/O error, a file shorter than its blocks).
  Outcome Read(int fd, const View& dst, absl::Status* error) const;
  // A new read-only descriptor of the file, or -1 when it cannot be opened
  // or is no longer the file the source opened.
  int OpenFd() const;

  bool pixel_interleaved() const { return samples_ > 1; }
  // How many block offsets the reader keeps (those of its irregular
  // planes; an affine plane keeps none): what it costs per block.
  size_t kept_offsets() const { return offsets_.size(); }

 private:
  RawTiffReader() = default;
  Outcome Failed(int rc, int band, int bx, int by, const Window& w, absl::Status* error) const;
  static void Release();  // the thread's buffers beyond what it keeps
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::vector<int> bands_;
  int psize_ = 0;
  int block_w_ = 0, block_h_ = 0;
  int width_ = 0, height_ = 0;
  // Samples per pixel in a block: the file's band count when it is
  // pixel-interleaved, 1 when band-interleaved.
  int samples_ = 1;
  // Where block (bx, by) of the plane-th plane read (bands_, or one plane
  // when pixel-interleaved) starts; 0 when this reader cannot read it (the
  // file has no bytes for it, or fewer than the image's rows there).
  int64_t OffsetOf(int plane, int bx, int by) const;
  // A plane laid out regularly: base + bx * step_x + by * step_y, or, when
  // `irregular`, offsets_[first + by * blocks_x_ + bx].
  struct Plane {
    bool irregular = false;
    uint64_t base = 0, step_x = 0, step_y = 0;
    size_t first = 0;
  };
  int blocks_x_ = 0;
  int64_t per_plane_ = 0;
  std::vector<Plane> planes_;
  std::vector<uint64_t> offsets_;
};

// How many tile reads the raw path served in this process (for tests and
// benchmarks: proof that it was taken).
int64_t RawTiffReadCount();

}  // namespace eoscale::io::internal

#endif  // EOSCALE_IO_RAW_TIFF_H_
