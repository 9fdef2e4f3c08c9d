// GDAL's RasterSource: a raster file read by windows, through handles
// borrowed from the process's handle pool (io/handle_pool.h).
//
// What Open sees is what every read gets. OpenRaster records the file's
// identity (device, inode, modification time, size) and the layout of the
// selected bands; every handle a reader (re)opens is checked against both
// before it reads a pixel, so a file replaced under the path (another pixel
// type, another block size: a block read into a tile buffer it does not fit)
// is an error naming the file and what changed, never a crash. The first
// read, then one a second, stats the file (a pooled handle may keep reading
// the old file and never be reopened). CheckUnchanged restats every file the
// source reads (a VRT's too), so an input rewritten during a run fails the
// run before anything is committed.
//
// What remains: a FIFO renamed over the path between a reopen's stat and its
// open would still block that open; a rewrite that keeps the size within one
// tick of the kernel's file clock (a few ms) after OpenRaster is not seen.
//
// GDAL's block cache belongs to the host program (its size too). Reads of
// uncompressed GeoTIFFs go around GDAL altogether (io/raw_tiff.h); reads of
// whole blocks go around the cache (GDALReadBlock, straight into the tile);
// other reads go through it, and the blocks they brought in are dropped right after
// (GDALFlushRasterCache on the handle's bands), so that the engine's share of
// the cache is at most one read per reading thread whatever GDAL_CACHEMAX is.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cpl_conv.h"
#include "cpl_string.h"
#include "cpl_vsi.h"
#include "eoscale/io/file_state.h"
#include "eoscale/io/gdal_blocks.h"
#include "eoscale/io/gdal_open.h"
#include "eoscale/io/gdal_raster.h"
#include "eoscale/io/gdal_util.h"
#include "eoscale/io/handle_pool.h"
#include "eoscale/io/raw_tiff.h"
#include "eoscale/io/vrt_mosaic.h"
#include "oneapi/tbb/enumerable_thread_specific.h"

namespace eoscale::io {
namespace {

using internal::AppendBlocksBehind;
using internal::DescribeChange;
using internal::FileState;
using internal::FlushBlockCache;
using internal::FromGdal;
using internal::HintsFor;
using internal::Layout;
using internal::OpenDataset;
using internal::OpenHints;
using internal::OutOfDescriptors;
using internal::SpecialFileKind;
using internal::StatFile;
using internal::TooManyOpenFiles;
using internal::HandlePool;
using internal::ScopedGdalErrors;
using internal::ToGdal;

class GdalSource final : public RasterSource {
 public:
  GdalSource(std::string path, std::vector<int> bands, Profile profile, int bw, int bh, Layout layout,
             FileState state, std::vector<std::string> files, std::vector<FileState> file_states, OpenHints hints)
      : path_(std::move(path)), bands_(std::move(bands)), profile_(std::move(profile)), block_w_(bw),
        block_h_(bh), layout_(std::move(layout)), state_(state), files_(std::move(files)),
        file_states_(std::move(file_states)), hints_(std::move(hints)), key_(HandlePool::Global().NewKey()) {
    // GDALReadBlock reads the dataset's own blocks, which for a VRT are not
    // the blocks block_width() reports (those of its sources).
    read_bw_ = layout_.blocks[0].first;
    read_bh_ = layout_.blocks[0].second;
    uniform_blocks_ = read_bw_ > 0 && read_bh_ > 0 &&
                      std::all_of(layout_.blocks.begin(), layout_.blocks.end(),
                                  [&](const std::pair<int, int>& b) { return b == layout_.blocks[0]; });
    // A one-band GeoTIFF read block by block never touches the cache; a
    // pixel-interleaved one caches the other bands' blocks, a VRT its
    // sources' blocks, a JPEG 2000 file the blocks it decoded along.
    flush_after_block_reads_ = !(hints_.driver == "GTiff" && layout_.count == 1);
  }

  ~GdalSource() override {
    HandlePool::Global().Drop(key_);
    HandlePool::Global().Drop(fd_key_);
  }

  const Profile& profile() const override { return profile_; }
  int block_width() const override { return block_w_; }
  int block_height() const override { return block_h_; }
  // Through GDAL, a read of part of a block reads (decodes) all of it; raw
  // reads take the rows they need.
  bool decodes_whole_blocks() const override { return raw_ == nullptr; }
  const std::string& description() const override { return path_; }
  std::vector<std::string> files() const override { return files_; }

  absl::Status CheckUnchanged() override {
    memos_.clear();  // the run's last read is done: its blocks go
    std::vector<std::string> changed;
    for (size_t i = 0; i < files_.size(); ++i) {
      const std::string what = DescribeChange(file_states_[i], StatFile(files_[i]));
      if (!what.empty()) changed.push_back(absl::StrCat("'", files_[i], "' changed during the run (", what, ")"));
    }
    if (changed.empty()) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat(absl::StrJoin(changed, "; "),
                                            ": the pixels read may mix old and new content"));
  }

  absl::Status Read(const View& dst) override {
    if (absl::Status st = CheckNotReplaced(); !st.ok()) return st;
    if (raw_ != nullptr) {
      // A pooled descriptor, no GDAL handle (raw_tiff.h); GDAL reads what
      // the raw path cannot, or when no descriptor can be opened.
      HandlePool& pool = HandlePool::Global();
      int fd = pool.BorrowFd(fd_key_);
      if (fd < 0) {
        pool.ReserveOpen();
        fd = raw_->OpenFd();
        if (fd < 0) pool.CancelOpen();
      }
      if (fd >= 0) {
        absl::Status error;
        const internal::RawTiffReader::Outcome outcome = raw_->Read(fd, dst, &error);
        if (outcome == internal::RawTiffReader::Outcome::kFailed) {
          pool.DiscardFd(fd);
          return error;
        }
        pool.ReturnFd(fd_key_, fd);
        if (outcome == internal::RawTiffReader::Outcome::kRead) return absl::OkStatus();
      }
    }
    absl::StatusOr<GDALDatasetH> h = Borrow();
    if (!h.ok()) return h.status();
    absl::Status st = ReadWith(*h, dst);
    if (st.ok()) {
      HandlePool::Global().Return(key_, *h);
    } else {
      HandlePool::Global().Discard(*h);  // a handle that failed may stay failed
    }
    return st;
  }

  // Uncompressed GeoTIFF blocks read without GDAL in between (raw_tiff.h).
  void SetRaw(std::unique_ptr<internal::RawTiffReader> raw) { raw_ = std::move(raw); }

  // The handle used to probe the file is the first idle one.
  void Adopt(GDALDatasetH h) {
    HandlePool::Global().ReserveOpen();
    HandlePool::Global().Return(key_, h);
  }

 private:
  // The first read, then one read a second, stats the file: a file replaced
  // or rewritten after Open fails the run at once, not at CheckUnchanged (a
  // handle borrowed from the pool may still read the old file, consistently,
  // and never be reopened). A stat costs about a microsecond; a read of a
  // tile, tens.
  absl::Status CheckNotReplaced() {
    constexpr int64_t kPeriodNs = 1000000000;
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch()).count();
    int64_t next = next_check_ns_.load(std::memory_order_relaxed);
    if (now < next || !next_check_ns_.compare_exchange_strong(next, now + kPeriodNs, std::memory_order_relaxed)) {
      return absl::OkStatus();  // checked recently, or another thread checks now
    }
    const std::string what = DescribeChange(state_, StatFile(path_));
    return what.empty() ? absl::OkStatus() : Changed(what);
  }

  absl::StatusOr<GDALDatasetH> Borrow() {
    HandlePool& pool = HandlePool::Global();
    if (GDALDatasetH h = pool.Borrow(key_); h != nullptr) return h;
    pool.ReserveOpen();
    absl::StatusOr<GDALDatasetH> h = Reopen();
    if (!h.ok()) pool.CancelOpen();
    return h;
  }

  absl::Status Changed(const std::string& what) const {
    return absl::DataLossError(absl::StrCat("'", path_, "' changed since it was opened (", what,
                                            "): its pixels can no longer be read as the run was planned"));
  }

  // A new handle on path_, checked against what OpenRaster saw.
  absl::StatusOr<GDALDatasetH> Reopen() {
    const FileState before = StatFile(path_);
    if (!before.exists) {
      return absl::UnavailableError(absl::StrCat("cannot reopen '", path_, "': the file no longer exists"));
    }
    const std::string identity = DescribeChange(state_, before);
    if (!identity.empty() && SpecialFileKind(before.mode) != nullptr) return Changed(identity);
    ScopedGdalErrors errors;
    bool out_of_fds = false;
    GDALDatasetH h = OpenDataset(path_, &hints_, &out_of_fds);
    if (h == nullptr) {
      if (!identity.empty()) return Changed(identity);
      if (out_of_fds) {
        return absl::ResourceExhaustedError(absl::StrCat("cannot reopen '", path_, "': ", TooManyOpenFiles()));
      }
      return absl::UnavailableError(absl::StrCat("cannot reopen '", path_, "': ", errors.message()));
    }
    // The layout is compared even when the file is known to be another one:
    // the message then says what a read would have met.
    std::vector<std::string> what;
    if (!identity.empty()) what.push_back(identity);
    if (std::string l = DescribeChange(layout_, Layout::Of(h, bands_), bands_); !l.empty()) what.push_back(l);
    // Stat again: a file renamed over the path between the first stat and
    // the open would pass the layout check if it had the same layout.
    if (what.empty()) {
      if (std::string again = DescribeChange(state_, StatFile(path_)); !again.empty()) what.push_back(again);
    }
    if (!what.empty()) {
      GDALClose(h);
      return Changed(absl::StrJoin(what, "; "));
    }
    return h;
  }

  absl::Status ReadError(const std::string& where, const ScopedGdalErrors& errors, int saved_errno) const {
    if (OutOfDescriptors(saved_errno)) {
      return absl::ResourceExhaustedError(
          absl::StrCat("reading '", path_, "' ", where, ": ", errors.message(), "; ", TooManyOpenFiles()));
    }
    return absl::DataLossError(absl::StrCat("reading '", path_, "' ", where, ": ", errors.message()));
  }

  absl::Status ReadWith(GDALDatasetH h, const View& dst) {
    ScopedGdalErrors errors;
    const Window& w = dst.window();
    const int psize = static_cast<int>(PixelSize(profile_.type));
    const GDALDataType gt = ToGdal(profile_.type);
    // A window that is exactly one block of the file (edge blocks included),
    // or any window of a GeoTIFF, is read block by block: a block that is
    // the whole tile straight into it, others into a per-thread block and
    // copied. No GDAL cache in between (its blocks would be allocated,
    // faulted in and flushed again for every margin-grown tile).
    const bool one_block = w.x % read_bw_ == 0 && w.y % read_bh_ == 0 &&
                           w.width == std::min(read_bw_, profile_.width - w.x) &&
                           w.height == std::min(read_bh_, profile_.height - w.y);
    if (uniform_blocks_ && (one_block || hints_.driver == "GTiff")) {
      std::vector<BlockMemo>& memos = memos_.local();
      if (memos.size() < static_cast<size_t>(dst.bands())) memos.resize(dst.bands());
      const size_t block_bytes = static_cast<size_t>(read_bw_) * read_bh_ * psize;
      absl::Status st;
      const int bx0 = w.x / read_bw_, bx1 = (w.x + w.width - 1) / read_bw_;
      const int by0 = w.y / read_bh_, by1 = (w.y + w.height - 1) / read_bh_;
      for (int b = 0; b < dst.bands() && st.ok(); ++b) {
        GDALRasterBandH band = GDALGetRasterBand(h, bands_[b]);
        for (int by = by0; by <= by1 && st.ok(); ++by) {
          for (int bx = bx0; bx <= bx1; ++bx) {
            const int x0 = std::max(w.x, bx * read_bw_), x1 = std::min(w.x + w.width, (bx + 1) * read_bw_);
            const int y0 = std::max(w.y, by * read_bh_), y1 = std::min(w.y + w.height, (by + 1) * read_bh_);
            const bool direct = one_block && w.width == read_bw_ && w.height == read_bh_ &&
                                dst.row_stride() == read_bw_;
            BlockMemo& memo = memos[b];
            if (!direct && memo.bx == bx && memo.by == by) {
              // The block this thread read last for this band (small tiles).
            } else {
              if (!direct && memo.data.size() < block_bytes) memo.data.resize(block_bytes);
              memo.bx = memo.by = -1;
              void* target = direct ? dst.RowPtr(b, 0) : memo.data.data();
              errno = 0;
              if (GDALReadBlock(band, bx, by, target) != CE_None) {
                st = ReadError(absl::StrCat("band ", bands_[b], " at ", DescribeWindow(w)), errors, errno);
                break;
              }
              if (direct) continue;
              memo.bx = bx;
              memo.by = by;
            }
            const std::vector<std::byte>& scratch = memo.data;
            const size_t row_bytes = static_cast<size_t>(x1 - x0) * psize;
            for (int y = y0; y < y1; ++y) {
              const size_t off = (static_cast<size_t>(y - by * read_bh_) * read_bw_ + (x0 - bx * read_bw_)) * psize;
              std::memcpy(static_cast<std::byte*>(dst.RowPtr(b, y - w.y)) + static_cast<size_t>(x0 - w.x) * psize,
                          scratch.data() + off,
                          row_bytes);
            }
          }
        }
      }
      if (flush_after_block_reads_) FlushBlockCache(h, w);
      return st;
    }
    GDALRasterIOExtraArg extra;
    INIT_RASTERIO_EXTRA_ARG(extra);
    errno = 0;
    const CPLErr err = GDALDatasetRasterIOEx(
        h, GF_Read, w.x, w.y, w.width, w.height, dst.data(), w.width, w.height, gt,
        static_cast<int>(bands_.size()), const_cast<int*>(bands_.data()), psize,
        static_cast<GSpacing>(dst.row_stride()) * psize, static_cast<GSpacing>(dst.band_stride()) * psize,
        &extra);
    const int saved_errno = errno;
    FlushBlockCache(h, w);
    if (err != CE_None || errors.failed()) {
      return ReadError(absl::StrCat("at ", DescribeWindow(w)), errors, saved_errno);
    }
    return absl::OkStatus();
  }

  const std::string path_;
  const std::vector<int> bands_;
  const Profile profile_;
  const int block_w_, block_h_;
  const Layout layout_;      // of the handle OpenRaster made
  const FileState state_;    // of path_ when OpenRaster opened it
  const std::vector<std::string> files_;
  const std::vector<FileState> file_states_;  // of files_, at OpenRaster
  const OpenHints hints_;
  const HandlePool::Key key_;
  const HandlePool::Key fd_key_ = HandlePool::Global().NewKey();  // the raw path's descriptors
  int read_bw_ = 0, read_bh_ = 0;  // the dataset's own blocks (first selected band)
  bool uniform_blocks_ = true;     // every selected band has read_bw_ x read_bh_ blocks
  bool flush_after_block_reads_ = false;
  std::atomic<int64_t> next_check_ns_{0};  // steady clock; see CheckNotReplaced
  // Per thread and selected band: the last block read into a buffer of its
  // own, kept until the end of the run (CheckUnchanged), so that tiles
  // smaller than a block do not read it again. One block per band and
  // reading thread; a block read whole into a tile is not kept.
  struct BlockMemo {
    int bx = -1, by = -1;
    std::vector<std::byte> data;
  };
  tbb::enumerable_thread_specific<std::vector<BlockMemo>> memos_;
  std::unique_ptr<internal::RawTiffReader> raw_;
};

// The files GDAL reads for `h` (the file itself first; a VRT's sources).
std::vector<std::string> FileList(GDALDatasetH h, const std::string& path) {
  std::vector<std::string> files;
  char** list = GDALGetFileList(h);
  for (char** f = list; f != nullptr && *f != nullptr; ++f) files.emplace_back(*f);
  CSLDestroy(list);
  if (std::find(files.begin(), files.end(), path) == files.end()) files.insert(files.begin(), path);
  return files;
}

}  // namespace

void EnsureGdalInitialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Only the drivers: GDAL's cache size and configuration belong to the
    // host program.
    GDALAllRegister();
  });
}

void SetGdalCacheMax(int64_t bytes) {
  EnsureGdalInitialized();
  GDALSetCacheMax64(bytes);
}
int64_t GdalCacheMax() { return GDALGetCacheMax64(); }
int64_t GdalCacheUsed() { return GDALGetCacheUsed64(); }

absl::StatusOr<std::unique_ptr<RasterSource>> OpenRaster(const std::string& path, std::vector<int> bands) {
  EnsureGdalInitialized();
  // Never open what is not a file or a folder: a FIFO without a writer would
  // block the open for ever.
  const FileState state = StatFile(path);
  if (!state.exists) {
    if (state.error == ENOENT || state.error == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("raster '", path, "' does not exist"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("cannot access raster '", path, "': ", std::strerror(state.error)));
  }
  if (const char* kind = SpecialFileKind(state.mode); kind != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' is ", kind, ", not a raster file: inputs must be regular files, folders of a folder-based "
        "format or GDAL virtual paths (/vsi...), which can be opened again by every reading thread"));
  }
  const bool folder = S_ISDIR(state.mode);
  if (!state.vsi && !folder && ::access(path.c_str(), R_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("raster '", path, "' is not readable: ", std::strerror(errno)));
  }
  ScopedGdalErrors errors;
  bool out_of_fds = false;
  GDALDatasetH h = OpenDataset(path, nullptr, &out_of_fds);
  if (h == nullptr && out_of_fds) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot open '", path, "': ", TooManyOpenFiles()));
  }
  if (h == nullptr || GDALGetRasterCount(h) == 0) {
    if (h != nullptr) GDALClose(h);
    if (folder) {
      // Folder-based formats (Zarr, ESRI grids, SAFE) open as folders; any
      // other folder is the user's mistake.
      return absl::InvalidArgumentError(absl::StrCat("'", path, "' is a folder, not a raster file"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' is not a raster GDAL can read",
                     errors.failed() ? absl::StrCat(": ", errors.message()) : std::string()));
  }
  const int count = GDALGetRasterCount(h);
  if (bands.empty()) {
    for (int b = 1; b <= count; ++b) bands.push_back(b);
  }
  for (int b : bands) {
    if (b < 1 || b > count) {
      GDALClose(h);
      return absl::InvalidArgumentError(
          absl::StrCat("band ", b, " of '", path, "' does not exist (the file has ", count, " bands)"));
    }
  }
  GDALRasterBandH first = GDALGetRasterBand(h, bands[0]);
  const char* pixeltype = GDALGetMetadataItem(first, "PIXELTYPE", "IMAGE_STRUCTURE");
  const GDALDataType gt = GDALGetRasterDataType(first);
  absl::StatusOr<PixelType> type = FromGdal(gt, pixeltype != nullptr && std::strcmp(pixeltype, "SIGNEDBYTE") == 0);
  if (!type.ok()) {
    GDALClose(h);
    return absl::UnimplementedError(absl::StrCat("'", path, "': ", type.status().message()));
  }
  for (int b : bands) {
    if (GDALGetRasterDataType(GDALGetRasterBand(h, b)) != gt) {
      GDALClose(h);
      return absl::UnimplementedError(absl::StrCat("'", path, "': bands of different pixel types are not supported"));
    }
  }
  Profile p;
  p.width = GDALGetRasterXSize(h);
  p.height = GDALGetRasterYSize(h);
  p.bands = static_cast<int>(bands.size());
  p.type = *type;
  double gt6[6];
  if (GDALGetGeoTransform(h, gt6) == CE_None) {
    for (int i = 0; i < 6; ++i) p.geotransform[i] = gt6[i];
  }
  if (const char* wkt = GDALGetProjectionRef(h); wkt != nullptr) p.crs_wkt = wkt;
  int has_nodata = 0;
  const double nodata = GDALGetRasterNoDataValue(first, &has_nodata);
  if (has_nodata) p.nodata = nodata;
  int bw = 0, bh = 0;
  GDALGetBlockSize(first, &bw, &bh);
  if (bw <= 0 || bh <= 0) bw = bh = 256;
  // GDAL reads whole blocks: reading any window of a band allocates every
  // block the window touches, whatever the memory budget. A header can claim
  // any block (fuzz_open_raster found a 102-byte file claiming rows of 1.3
  // billion float32 pixels: 5.2 GB per read); real layouts stay far below the
  // limit (a whole 10980 x 10980 float32 band stored as one strip is 482 MB).
  for (int b : bands) {
    int band_bw = 0, band_bh = 0;
    GDALGetBlockSize(GDALGetRasterBand(h, b), &band_bw, &band_bh);
    const int64_t block_bytes = int64_t{std::max(band_bw, 1)} * std::max(band_bh, 1) * PixelSize(p.type);
    if (block_bytes > kMaxBlockBytes) {
      GDALClose(h);
      return absl::ResourceExhaustedError(absl::StrCat(
          "'", path, "': band ", b, " is stored in blocks of ", band_bw, " x ", band_bh, " pixels (", block_bytes,
          " bytes); GDAL reads whole blocks, and blocks above ", kMaxBlockBytes >> 20, " MiB are refused"));
    }
  }
  std::vector<std::string> files = FileList(h, path);
  std::vector<FileState> file_states;
  file_states.reserve(files.size());
  for (const std::string& f : files) {
    file_states.push_back(f == path ? state : StatFile(f));
    // A VRT naming a FIFO would block the first read for ever.
    if (const char* kind = SpecialFileKind(file_states.back().mode); file_states.back().exists && kind != nullptr) {
      GDALClose(h);
      return absl::InvalidArgumentError(
          absl::StrCat("'", path, "' reads '", f, "', which is ", kind, ", not a raster file"));
    }
  }
  // The blocks reported are those of the files behind the selected bands
  // (a VRT's sources), combined as the default tile combines its inputs'
  // (AlignmentOf: whole blocks of each, the largest first).
  std::vector<BlockSize> behind;
  for (int b : bands) AppendBlocksBehind(GDALRasterBand::FromHandle(GDALGetRasterBand(h, b)), 0, &behind);
  const bool agree = std::all_of(behind.begin(), behind.end(), [&](const BlockSize& k) { return k == behind[0]; });
  if (behind.empty()) {
    // No band selected: the first band's blocks.
  } else if (agree && behind[0].width > 0 && behind[0].height > 0) {
    bw = behind[0].width;
    bh = behind[0].height;
  } else if (!agree) {
    const BlockSize unit = AlignmentOf(behind, p.width, p.height);
    bw = unit.width;
    bh = unit.height;
  }
  Layout layout = Layout::Of(h, bands);
  // The file may have been replaced between the stat above and the open.
  if (std::string what = DescribeChange(state, StatFile(path)); !what.empty()) {
    GDALClose(h);
    return absl::UnavailableError(absl::StrCat("'", path, "' changed while it was being opened (", what, ")"));
  }
  // A VRT that only places files side by side: read from the files (vrt_mosaic.h).
  absl::StatusOr<std::unique_ptr<RasterSource>> mosaic = internal::OpenVrtMosaic(h, path, bands, p, bw, bh, state);
  if (!mosaic.ok() || *mosaic != nullptr) {
    GDALClose(h);
    return mosaic;
  }
  OpenHints hints = HintsFor(h, path, S_ISREG(state.mode) && !state.vsi, files);
  std::unique_ptr<internal::RawTiffReader> raw =
      S_ISREG(state.mode) && !state.vsi ? internal::RawTiffReader::Probe(h, path, state.dev, state.ino, bands, p.type)
                                        : nullptr;
  auto src = std::make_unique<GdalSource>(path, std::move(bands), std::move(p), bw, bh, std::move(layout), state,
                                          std::move(files), std::move(file_states), std::move(hints));
  // A raw-read file needs no GDAL handle until a read falls back: the one
  // that probed it is closed (it holds the file's directory).
  const bool raw_read = raw != nullptr;
  src->SetRaw(std::move(raw));
  if (raw_read) {
    GDALClose(h);
  } else {
    src->Adopt(h);
  }
  return src;
}

}  // namespace eoscale::io
