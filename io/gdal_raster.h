// GDAL implementations of RasterSource and RasterSink, and GDAL's global
// settings (driver registration, block cache bound).
#ifndef EOSCALE_IO_GDAL_RASTER_H_
#define EOSCALE_IO_GDAL_RASTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eoscale/core/raster_io.h"

namespace eoscale::io {

// The largest file block (one band) OpenRaster accepts. A read of any window
// makes GDAL allocate the whole blocks it touches; real layouts stay far
// below this (a 10980 x 10980 float32 band stored as one strip is 482 MB),
// a crafted header can claim gigabytes.
inline constexpr int64_t kMaxBlockBytes = int64_t{512} << 20;

// Opens `path` for reading, on the 1-based `bands` (all when empty). `path`
// is a regular file, a folder GDAL reads (Zarr...) or a GDAL virtual path
// (/vsimem/, /vsizip/...); FIFOs, devices and sockets are refused without
// being opened.
//
// Each read borrows a GDAL handle of the source from the process's pool
// (GDAL handles are not thread-safe; io/handle_pool.h): at most half of
// RLIMIT_NOFILE handles stay open, whatever the number of sources. A handle
// reopened for a reader is checked against what OpenRaster saw (the file's
// device, inode, modification time and size; the raster size, band count,
// pixel types and block sizes): a file replaced or rewritten since is a
// DataLoss error naming it and what changed, as is one found changed by the
// stat made on the first read and then once a second. files() is GDAL's
// file list (a VRT: itself and its sources); CheckUnchanged() restats them.
//
// Reads of whole file blocks bypass GDAL's block cache; other reads go
// through it and drop the blocks they brought in right after, so the
// source's share of the cache is one read per reading thread, whatever
// GDAL_CACHEMAX the host set.
//
// Errors: NotFound (missing file), PermissionDenied (unreadable),
// InvalidArgument (not a raster, a special file, band out of range),
// Unimplemented (unsupported pixel type), ResourceExhausted (a band stored in
// blocks of more than kMaxBlockBytes: GDAL reads whole blocks; no file
// descriptor left, with the process's limit).
absl::StatusOr<std::unique_ptr<RasterSource>> OpenRaster(const std::string& path,
                                                         std::vector<int> bands = {});

// Creates a tiled GeoTIFF for `profile` under a temporary name beside the
// file it will replace, with blocks of block_width x block_height when
// GeoTIFF allows it (multiples of 16; else 256), or strips of block_height
// rows when block_width is the image width. `options` (GDAL creation
// options, "KEY=VALUE") override the defaults; the profile's writer options
// come first. CRS, geotransform and nodata are set from the profile.
//
// Where it writes: `path`'s symlinks are followed (a symlinked output is
// written through to its target; the link stays a link), and the temporary
// file goes beside the target: ".<first bytes of the name>.eoscale-<hash of
// the name>-<pid>-<n>.tmp", at most 126 bytes whatever the name's length.
// While it exists the sink holds an flock() on it; temporaries of the same
// output left by processes that are gone (SIGKILL) are removed here, never
// those of a live process (the lock, and the pid in the name, tell).
//
// The sink's Commit replaces the file atomically (renameat2 RENAME_EXCHANGE,
// or RENAME_NOREPLACE for a new file); the replaced file stays under the
// temporary name until Cleanup, so Rollback puts it back byte for byte. A
// replaced file's mode, and its owner and group where the process may set
// them, pass to the new file; its hard links do not (they keep the old
// bytes). Finish closes and fsyncs the temporary: a full disk fails Finish.
// With `durable` false, nothing is fsync'ed (the file is left to the page
// cache; WriteOptions::durable says what that risks). With `assemble_rows`
// (SinkLayout::assemble_rows), windows that cut the blocks' rows are
// assembled into whole blocks too (the engine's own layout only).
//
// Errors: those of CheckWritable; InvalidArgument (a creation option that is
// not KEY=VALUE or that the GTiff driver does not accept, naming it; a block
// size or another parameter GDAL refuses); ResourceExhausted (no space, or
// too many open files); PermissionDenied (the folder refuses the temporary
// file).
absl::StatusOr<std::unique_ptr<RasterSink>> CreateGeoTiff(const std::string& path,
                                                          const Profile& profile,
                                                          int block_width, int block_height,
                                                          const std::vector<std::string>& options = {},
                                                          bool durable = true, bool assemble_rows = false);

// Checks now that `path` could be created: its folder exists and is
// writable, its name fits the file system (NAME_MAX), and it is not a
// folder, a FIFO, a device or a socket (followed through symlinks), nor a
// read-only file. GDAL virtual paths (/vsi...) are not supported as outputs.
// Errors: InvalidArgument, NotFound (missing folder), PermissionDenied,
// Unimplemented (a virtual path).
absl::Status CheckWritable(const std::string& path);

// Checks GeoTIFF creation options ("KEY=VALUE") against the GTiff driver,
// one by one. Errors: InvalidArgument naming the first bad option and
// GDAL's reason, e.g. "creation option 'COMPRESS=BOGUS' is not valid for
// GeoTIFF: 'BOGUS' is an unexpected value for COMPRESS creation option of
// type string-select."
absl::Status CheckCreationOptions(const std::vector<std::string>& options);

namespace internal {
// For tests only: forces the way Commit moves files into place, to test the
// fallbacks of file systems without renameat2 (kNoRenameat2: a hard-linked
// backup, then rename) or without hard links either (kNoHardLinks: rename
// the old file aside, then rename the new one in). Not thread-safe against
// concurrent commits; reset to kAuto after use.
enum class CommitMoves { kAuto, kNoRenameat2, kNoHardLinks };
void SetCommitMovesForTesting(CommitMoves moves);
}  // namespace internal

// Registers GDAL's drivers once. Thread-safe.
void EnsureGdalInitialized();
// Bounds GDAL's global block cache.
void SetGdalCacheMax(int64_t bytes);
int64_t GdalCacheMax();
int64_t GdalCacheUsed();

}  // namespace eoscale::io

#endif  // EOSCALE_IO_GDAL_RASTER_H_
