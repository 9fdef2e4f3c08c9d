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

// Creates a tiled GeoTIFF for `profile` under a temporary name beside
// `path`, with blocks of block_width x block_height when GeoTIFF allows it
// (multiples of 16; else 256), or strips of block_height rows when
// block_width is the image width. `options` (GDAL creation options,
// "KEY=VALUE") override the defaults; the profile's writer options come
// first. CRS, geotransform and nodata are set from the profile.
// Errors: the folder does not exist or is not writable, GDAL refuses.
absl::StatusOr<std::unique_ptr<RasterSink>> CreateGeoTiff(const std::string& path,
                                                          const Profile& profile,
                                                          int block_width, int block_height,
                                                          const std::vector<std::string>& options = {});

// Checks now that `path` could be created (its folder exists and is
// writable, it is not a folder).
absl::Status CheckWritable(const std::string& path);

// Registers GDAL's drivers once. Thread-safe.
void EnsureGdalInitialized();
// Bounds GDAL's global block cache.
void SetGdalCacheMax(int64_t bytes);
int64_t GdalCacheMax();
int64_t GdalCacheUsed();

}  // namespace eoscale::io

#endif  // EOSCALE_IO_GDAL_RASTER_H_
