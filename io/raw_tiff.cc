#include "eoscale/io/raw_tiff.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cpl_string.h"
#include "eoscale/core/tiling.h"

namespace eoscale::io::internal {
namespace {

std::atomic<int64_t> g_raw_reads{0};

// At most this many iovecs per preadv (Linux's IOV_MAX is 1024).
constexpr int kMaxIov = 1000;
// The most block entries a file's array may have, and the reader keep (8
// bytes each when irregular): 32 MiB. A larger file is read through GDAL.
constexpr int64_t kMaxTableEntries = int64_t{1} << 22;
// Row spans shorter than this are read in one piece with their gaps and
// copied out, rather than each row straight into the tile.
constexpr int64_t kMinDirectSpan = 512;
// Gaps longer than this (a narrow tile of a wide strip) are skipped by
// reading each row on its own rather than into the junk buffer.
constexpr int64_t kMaxJunk = 16 << 10;
// A reading thread keeps its buffers between reads up to this size (a
// larger one, for a window of huge strips, is freed after the read).
constexpr size_t kKeepBytes = size_t{4} << 20;

bool Is(const char* value, const char* want) { return value != nullptr && EQUAL(value, want); }

// The offset and byte count of block (bx, by) of 1-based `band`, as GDAL's
// GTiff driver reports them; false when it reports none.
bool BlockAt(GDALDatasetH h, int band, int bx, int by, int64_t* offset, int64_t* bytes) {
  GDALRasterBandH b = GDALGetRasterBand(h, band);
  if (b == nullptr) return false;
  char key[64];
  std::snprintf(key, sizeof key, "BLOCK_OFFSET_%d_%d", bx, by);
  const char* off = GDALGetMetadataItem(b, key, "TIFF");
  if (off == nullptr) return false;
  std::snprintf(key, sizeof key, "BLOCK_SIZE_%d_%d", bx, by);
  const char* size = GDALGetMetadataItem(b, key, "TIFF");
  if (size == nullptr) return false;
  *offset = std::strtoll(off, nullptr, 10);
  *bytes = std::strtoll(size, nullptr, 10);
  return *offset > 0 && *bytes > 0;
}

// Reads exactly `n` bytes at `offset`.
bool ReadAt(int fd, void* to, size_t n, int64_t offset) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd, static_cast<std::byte*>(to) + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

template <typename T>
T Load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;  // little-endian file on a little-endian host (checked by Probe)
}

// The values of an array tag (SHORT, LONG or LONG8) of a little-endian TIFF
// directory entry: inline when they fit in the entry's value field,
// elsewhere in the file otherwise. False on another type or a short file.
bool TagValues(int fd, bool big, const std::byte* entry, size_t max_count, std::vector<uint64_t>* out) {
  const uint16_t type = Load<uint16_t>(entry + 2);
  const uint64_t n = big ? Load<uint64_t>(entry + 4) : Load<uint32_t>(entry + 4);
  const size_t size = type == 3 ? 2 : type == 4 ? 4 : type == 16 ? 8 : 0;
  if (size == 0 || n == 0 || n > max_count) return false;
  const std::byte* field = entry + (big ? 12 : 8);
  std::vector<std::byte> bytes(static_cast<size_t>(n) * size);
  if (bytes.size() <= (big ? 8u : 4u)) {
    std::memcpy(bytes.data(), field, bytes.size());
  } else if (!ReadAt(fd, bytes.data(), bytes.size(), big ? Load<uint64_t>(field) : Load<uint32_t>(field))) {
    return false;
  }
  out->resize(static_cast<size_t>(n));
  for (size_t i = 0; i < out->size(); ++i) {
    const std::byte* v = bytes.data() + i * size;
    (*out)[i] = size == 2 ? Load<uint16_t>(v) : size == 4 ? Load<uint32_t>(v) : Load<uint64_t>(v);
  }
  return true;
}

// The block offsets and byte counts of the first directory (GDAL's image)
// of a little-endian TIFF or BigTIFF: the tile arrays, or the strip arrays
// of a strip file. At most `max_count` entries each.
bool ReadBlockArrays(int fd, size_t max_count, std::vector<uint64_t>* offsets, std::vector<uint64_t>* counts) {
  std::byte head[16];
  if (!ReadAt(fd, head, sizeof head, 0)) return false;
  const bool big = Load<uint16_t>(head + 2) == 43;
  if (big && (Load<uint16_t>(head + 4) != 8 || Load<uint16_t>(head + 6) != 0)) return false;
  const uint64_t ifd = big ? Load<uint64_t>(head + 8) : Load<uint32_t>(head + 4);
  std::byte n_bytes[8];
  if (ifd == 0 || !ReadAt(fd, n_bytes, big ? 8 : 2, static_cast<int64_t>(ifd))) return false;
  const uint64_t entries = big ? Load<uint64_t>(n_bytes) : Load<uint16_t>(n_bytes);
  const size_t entry_size = big ? 20 : 12;
  if (entries == 0 || entries > 4096) return false;
  std::vector<std::byte> dir(static_cast<size_t>(entries) * entry_size);
  if (!ReadAt(fd, dir.data(), dir.size(), static_cast<int64_t>(ifd + (big ? 8 : 2)))) return false;
  const std::byte* tile_offsets = nullptr;
  const std::byte* tile_counts = nullptr;
  const std::byte* strip_offsets = nullptr;
  const std::byte* strip_counts = nullptr;
  for (size_t i = 0; i < entries; ++i) {
    const std::byte* e = dir.data() + i * entry_size;
    switch (Load<uint16_t>(e)) {
      case 324: tile_offsets = e; break;
      case 325: tile_counts = e; break;
      case 273: strip_offsets = e; break;
      case 279: strip_counts = e; break;
      default: break;
    }
  }
  const bool tiled = tile_offsets != nullptr;
  const std::byte* off = tiled ? tile_offsets : strip_offsets;
  const std::byte* cnt = tiled ? tile_counts : strip_counts;
  return off != nullptr && cnt != nullptr && TagValues(fd, big, off, max_count, offsets) &&
         TagValues(fd, big, cnt, max_count, counts) && offsets->size() == counts->size();
}

// preadv of `iov` at `offset`, all of it, retrying on EINTR and on the
// partial reads POSIX allows. Returns 0, the errno of a failure, or -1 when
// the file ended first.
int ReadFully(int fd, std::vector<iovec>& iov, int64_t offset) {
  size_t first = 0;
  while (first < iov.size()) {
    const int n = static_cast<int>(std::min<size_t>(iov.size() - first, kMaxIov));
    const ssize_t got = ::preadv(fd, iov.data() + first, n, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (got == 0) return -1;
    offset += got;
    size_t left = static_cast<size_t>(got);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return 0;
}

// Copies sample `s` of `samples` interleaved samples of `n` pixels.
template <typename T>
void Deinterleave(const std::byte* src, int samples, int s, int n, std::byte* dst) {
  const T* in = reinterpret_cast<const T*>(src) + s;
  T* out = reinterpret_cast<T*>(dst);
  for (int x = 0; x < n; ++x) out[x] = in[static_cast<int64_t>(x) * samples];
}

// The same when a pixel's samples fill exactly one word W (2, 4 or 8 bytes):
// sample s is the word shifted right (little-endian), a contiguous load
// and a shift that the compiler vectorises.
template <typename T, typename W>
void DeinterleaveWord(const std::byte* src, int s, int n, std::byte* dst) {
  const int shift = 8 * static_cast<int>(sizeof(T)) * s;
  T* out = reinterpret_cast<T*>(dst);
  for (int x = 0; x < n; ++x) {
    W w;
    std::memcpy(&w, src + static_cast<int64_t>(x) * sizeof(W), sizeof(W));
    out[x] = static_cast<T>(w >> shift);
  }
}

void DeinterleaveRow(const std::byte* src, int samples, int s, int n, int psize, std::byte* dst) {
  switch (samples * psize) {
    case 2: DeinterleaveWord<uint8_t, uint16_t>(src, s, n, dst); return;
    case 4:
      if (psize == 1) DeinterleaveWord<uint8_t, uint32_t>(src, s, n, dst);
      else DeinterleaveWord<uint16_t, uint32_t>(src, s, n, dst);
      return;
    case 8:
      if (psize == 1) DeinterleaveWord<uint8_t, uint64_t>(src, s, n, dst);
      else if (psize == 2) DeinterleaveWord<uint16_t, uint64_t>(src, s, n, dst);
      else DeinterleaveWord<uint32_t, uint64_t>(src, s, n, dst);
      return;
    default: break;
  }
  switch (psize) {
    case 1: Deinterleave<uint8_t>(src, samples, s, n, dst); break;
    case 2: Deinterleave<uint16_t>(src, samples, s, n, dst); break;
    case 4: Deinterleave<uint32_t>(src, samples, s, n, dst); break;
    default: Deinterleave<uint64_t>(src, samples, s, n, dst); break;
  }
}

// Per reading thread: the gaps' sink and a pixel-interleaved block's rows.
struct ThreadBuffers {
  std::vector<std::byte> junk;
  std::vector<std::byte> rows;
  std::vector<iovec> iov;
};
thread_local ThreadBuffers t_buffers;

}  // namespace

int64_t RawTiffReadCount() { return g_raw_reads.load(std::memory_order_relaxed); }

std::unique_ptr<RawTiffReader> RawTiffReader::Probe(GDALDatasetH h, const std::string& path, dev_t dev, ino_t ino,
                                                    const std::vector<int>& bands, PixelType type) {
  if constexpr (std::endian::native != std::endian::little) return nullptr;
  if (const char* off = std::getenv("EOSCALE_RAW_TIFF"); off != nullptr && std::strcmp(off, "0") == 0) return nullptr;
  GDALDriverH d = GDALGetDatasetDriver(h);
  if (d == nullptr || !Is(GDALGetDriverShortName(d), "GTiff") || bands.empty()) return nullptr;
  if (path.rfind("/vsi", 0) == 0) return nullptr;
  if (GDALGetMetadataItem(h, "COMPRESSION", "IMAGE_STRUCTURE") != nullptr) return nullptr;
  const char* interleave = GDALGetMetadataItem(h, "INTERLEAVE", "IMAGE_STRUCTURE");
  const int count = GDALGetRasterCount(h);
  const bool pixel = count > 1 && Is(interleave, "PIXEL");
  if (count > 1 && !pixel && !Is(interleave, "BAND")) return nullptr;
  const int psize = static_cast<int>(PixelSize(type));
  GDALRasterBandH first = GDALGetRasterBand(h, bands[0]);
  const GDALDataType gt = GDALGetRasterDataType(first);
  if (GDALGetDataTypeSizeBytes(gt) != psize || GDALDataTypeIsComplex(gt)) return nullptr;
  int bw = 0, bh = 0;
  GDALGetBlockSize(first, &bw, &bh);
  if (bw <= 0 || bh <= 0) return nullptr;
  // A pixel-interleaved block holds every band: all of them must be plain.
  std::vector<int> check = bands;
  if (pixel) {
    check.clear();
    for (int b = 1; b <= count; ++b) check.push_back(b);
  }
  for (int b : check) {
    GDALRasterBandH band = GDALGetRasterBand(h, b);
    if (band == nullptr || GDALGetRasterDataType(band) != gt) return nullptr;
    if (GDALGetMetadataItem(band, "NBITS", "IMAGE_STRUCTURE") != nullptr) return nullptr;
    int w = 0, ht = 0;
    GDALGetBlockSize(band, &w, &ht);
    if (w != bw || ht != bh) return nullptr;
  }
  std::unique_ptr<RawTiffReader> r(new RawTiffReader());
  r->path_ = path;
  r->dev_ = dev;
  r->ino_ = ino;
  const int fd = r->OpenFd();
  if (fd < 0) return nullptr;
  // "II" + 42 (TIFF) or 43 (BigTIFF): little-endian samples.
  unsigned char magic[4] = {};
  const bool little = ::pread(fd, magic, 4, 0) == 4 && magic[0] == 'I' && magic[1] == 'I' &&
                      (magic[2] == 42 || magic[2] == 43) && magic[3] == 0;
  r->width_ = GDALGetRasterXSize(h);
  r->height_ = GDALGetRasterYSize(h);
  r->blocks_x_ = (r->width_ + bw - 1) / bw;
  r->per_plane_ = int64_t{r->blocks_x_} * ((r->height_ + bh - 1) / bh);
  // The file's own block arrays: a plane per band when band-interleaved.
  const int64_t planes_in_file = pixel || count == 1 ? 1 : count;
  std::vector<uint64_t> offsets, counts;
  const bool arrays = little && ReadBlockArrays(fd, kMaxTableEntries, &offsets, &counts) &&
                      static_cast<int64_t>(offsets.size()) == r->per_plane_ * planes_in_file;
  ::close(fd);
  if (!arrays) return nullptr;
  // Only the planes read: the selected bands', or the one of a
  // pixel-interleaved file.
  const std::vector<int> planes = pixel ? std::vector<int>{1} : bands;
  if (static_cast<int64_t>(planes.size()) * r->per_plane_ > kMaxTableEntries) return nullptr;
  const int64_t block_row = int64_t{bw} * (pixel ? count : 1) * psize;
  for (int band : planes) {
    const size_t first = static_cast<size_t>(band - 1) * static_cast<size_t>(r->per_plane_);
    // What GDAL reports for the first and last blocks must be what was read
    // (none where the file has none: a sparse block).
    for (const int64_t i : {int64_t{0}, r->per_plane_ - 1}) {
      int64_t offset = 0, bytes = 0;
      const bool gdal = BlockAt(h, band, static_cast<int>(i % r->blocks_x_), static_cast<int>(i / r->blocks_x_),
                                &offset, &bytes);
      const uint64_t mine = offsets[first + i], mine_bytes = counts[first + i];
      if (gdal != (mine > 0 && mine_bytes > 0) ||
          (gdal && (static_cast<uint64_t>(offset) != mine || static_cast<uint64_t>(bytes) != mine_bytes))) {
        return nullptr;
      }
    }
    // A block is readable here when it holds whole rows, at least as many
    // as the image has there (a strip file's last strip may hold fewer
    // than the others); its offset is kept as 0 otherwise (GDAL reads it).
    for (int64_t i = 0; i < r->per_plane_; ++i) {
      const int64_t rows = std::min<int64_t>(bh, r->height_ - (i / r->blocks_x_) * int64_t{bh});
      const uint64_t bytes = counts[first + i];
      const bool readable = offsets[first + i] > 0 && offsets[first + i] <= uint64_t{INT64_MAX} &&
                            bytes % static_cast<uint64_t>(block_row) == 0 &&
                            bytes / static_cast<uint64_t>(block_row) >= static_cast<uint64_t>(rows);
      if (!readable) offsets[first + i] = 0;
    }
    // Affine in (bx, by) when every block is readable and where the first
    // block, its right and its lower neighbours say.
    Plane plane;
    // (In unsigned arithmetic, which wraps: a hostile file's offsets cannot
    // overflow it, and OffsetOf computes what was checked here.)
    plane.base = offsets[first];
    plane.step_x = r->blocks_x_ > 1 ? offsets[first + 1] - plane.base : 0;
    plane.step_y = r->per_plane_ > r->blocks_x_ ? offsets[first + r->blocks_x_] - plane.base : 0;
    for (int64_t i = 0; i < r->per_plane_ && !plane.irregular; ++i) {
      const uint64_t want = plane.base + static_cast<uint64_t>(i % r->blocks_x_) * plane.step_x +
                            static_cast<uint64_t>(i / r->blocks_x_) * plane.step_y;
      plane.irregular = offsets[first + i] == 0 || offsets[first + i] != want;
    }
    if (plane.irregular) {
      plane.first = r->offsets_.size();
      r->offsets_.insert(r->offsets_.end(), offsets.begin() + static_cast<std::ptrdiff_t>(first),
                         offsets.begin() + static_cast<std::ptrdiff_t>(first + r->per_plane_));
    }
    r->planes_.push_back(plane);
  }
  r->bands_ = bands;
  r->psize_ = psize;
  r->block_w_ = bw;
  r->block_h_ = bh;
  r->samples_ = pixel ? count : 1;
  return r;
}

int64_t RawTiffReader::OffsetOf(int plane, int bx, int by) const {
  const Plane& p = planes_[static_cast<size_t>(plane)];
  if (p.irregular) return static_cast<int64_t>(offsets_[p.first + static_cast<size_t>(int64_t{by} * blocks_x_ + bx)]);
  return static_cast<int64_t>(p.base + static_cast<uint64_t>(bx) * p.step_x + static_cast<uint64_t>(by) * p.step_y);
}

int RawTiffReader::OpenFd() const {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_dev != dev_ || st.st_ino != ino_ || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

RawTiffReader::Outcome RawTiffReader::Read(int fd, const View& dst, absl::Status* error) const {
  const Window& w = dst.window();
  if (w.width <= 0 || w.height <= 0) return Outcome::kRead;
  if (w.x < 0 || w.y < 0 || w.x + w.width > width_ || w.y + w.height > height_) return Outcome::kFallBack;
  ThreadBuffers& tb = t_buffers;
  const int64_t pixel_bytes = int64_t{samples_} * psize_;  // of one pixel in a block
  const int64_t block_row = int64_t{block_w_} * pixel_bytes;
  const int bx0 = w.x / block_w_, bx1 = (w.x + w.width - 1) / block_w_;
  const int by0 = w.y / block_h_, by1 = (w.y + w.height - 1) / block_h_;
  // Band-interleaved: one pass per selected band; pixel-interleaved: one
  // pass (the block holds them all).
  const int passes = samples_ > 1 ? 1 : static_cast<int>(bands_.size());
  for (int by = by0; by <= by1; ++by) {
    const int y0 = std::max(w.y, by * block_h_), y1 = std::min(w.y + w.height, (by + 1) * block_h_);
    for (int bx = bx0; bx <= bx1; ++bx) {
      const int x0 = std::max(w.x, bx * block_w_), x1 = std::min(w.x + w.width, (bx + 1) * block_w_);
      const int64_t lead = int64_t{x0 - bx * block_w_} * pixel_bytes;     // bytes before x0 in a block row
      const int64_t span = int64_t{x1 - x0} * pixel_bytes;                // wanted bytes of a block row
      const int64_t gap = block_row - span;                               // bytes between two rows' spans
      // Straight into the tile: a band-interleaved block whose rows give
      // spans long enough that the kernel's per-segment cost does not
      // dominate. Otherwise the rows' byte range is read in one piece and
      // copied (or de-interleaved) out of it.
      const bool direct = samples_ == 1 && (span >= kMinDirectSpan || gap > kMaxJunk);
      const bool row_by_row = direct && gap > kMaxJunk;
      const int64_t range = int64_t{y1 - y0 - 1} * block_row + span;
      if (direct && !row_by_row && tb.junk.size() < static_cast<size_t>(gap)) {
        tb.junk.resize(static_cast<size_t>(gap));
      }
      if (!direct && tb.rows.size() < static_cast<size_t>(range)) tb.rows.resize(static_cast<size_t>(range));
      for (int pass = 0; pass < passes; ++pass) {
        // Pixel-interleaved blocks are stored under band 1's offsets.
        const int file_band = samples_ > 1 ? 1 : bands_[pass];
        const int64_t offset = OffsetOf(samples_ > 1 ? 0 : pass, bx, by);
        if (offset <= 0) {  // a sparse or short block: GDAL reads it
          Release();
          return Outcome::kFallBack;
        }
        const int64_t first_row = y0 - int64_t{by} * block_h_;
        tb.iov.clear();
        if (row_by_row) {
          for (int y = y0; y < y1; ++y) {
            tb.iov.assign(1, iovec{static_cast<std::byte*>(dst.RowPtr(pass, y - w.y)) + int64_t{x0 - w.x} * psize_,
                                   static_cast<size_t>(span)});
            const int rc = ReadFully(fd, tb.iov, offset + (first_row + (y - y0)) * block_row + lead);
            if (rc != 0) return Failed(rc, file_band, bx, by, w, error);
          }
          continue;
        }
        if (direct) {
          for (int y = y0; y < y1; ++y) {
            void* to = static_cast<std::byte*>(dst.RowPtr(pass, y - w.y)) + int64_t{x0 - w.x} * psize_;
            if (!tb.iov.empty() && static_cast<std::byte*>(tb.iov.back().iov_base) + tb.iov.back().iov_len == to) {
              tb.iov.back().iov_len += static_cast<size_t>(span);  // contiguous in both: one segment
            } else {
              tb.iov.push_back(iovec{to, static_cast<size_t>(span)});
            }
            if (gap > 0 && y + 1 < y1) tb.iov.push_back(iovec{tb.junk.data(), static_cast<size_t>(gap)});
          }
        } else {
          tb.iov.push_back(iovec{tb.rows.data(), static_cast<size_t>(range)});
        }
        const int rc = ReadFully(fd, tb.iov, offset + first_row * block_row + lead);
        if (rc != 0) return Failed(rc, file_band, bx, by, w, error);
        if (direct) continue;
        // Out of the rows read: this pass's band, or every selected band of
        // a pixel-interleaved block.
        const size_t first = samples_ > 1 ? 0 : static_cast<size_t>(pass);
        const size_t last = samples_ > 1 ? bands_.size() : first + 1;
        for (size_t i = first; i < last; ++i) {
          for (int y = y0; y < y1; ++y) {
            const std::byte* from = tb.rows.data() + int64_t{y - y0} * block_row;
            std::byte* to = static_cast<std::byte*>(dst.RowPtr(static_cast<int>(i), y - w.y)) +
                            int64_t{x0 - w.x} * psize_;
            if (samples_ == 1) {
              std::memcpy(to, from, static_cast<size_t>(span));
            } else {
              DeinterleaveRow(from, samples_, bands_[i] - 1, x1 - x0, psize_, to);
            }
          }
        }
      }
    }
  }
  Release();
  g_raw_reads.fetch_add(1, std::memory_order_relaxed);
  return Outcome::kRead;
}

RawTiffReader::Outcome RawTiffReader::Failed(int rc, int band, int bx, int by, const Window& w,
                                             absl::Status* error) const {
  Release();
  *error = absl::DataLossError(absl::StrCat("reading '", path_, "' band ", band, " block ", bx, ",", by, " at ",
                                            DescribeWindow(w), ": ",
                                            rc > 0 ? std::strerror(rc) : "the file ends before the block (truncated?)"));
  return Outcome::kFailed;
}

void RawTiffReader::Release() {
  ThreadBuffers& tb = t_buffers;
  if (tb.rows.capacity() > kKeepBytes) std::vector<std::byte>().swap(tb.rows);
  if (tb.junk.capacity() > kKeepBytes) std::vector<std::byte>().swap(tb.junk);
}

}  // namespace eoscale::io::internal
