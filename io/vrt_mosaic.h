// Internal to io/: a VRT that only places files side by side (what
// gdalbuildvrt makes of tiles: a mosaic), read from the files themselves.
//
// Through GDAL, a VRT read is a RasterIO on every source it overlaps, through
// GDAL's block cache; the engine flushes that cache after each read (its
// memory belongs to the budget), so a tile that cuts a source's blocks (a
// mosaic of 10980-pixel Sentinel-2 tiles: every tile but the first column and
// row of sources, in 256-pixel tiles) reads those blocks again for each of
// its neighbours. Here each source file is an input of its own
// (OpenRaster: raw reads of uncompressed GeoTIFFs, block reads of others),
// and a tile is read as the parts of it each source covers, straight into
// the tile.
//
// Only VRTs where that is exactly what GDAL would return: every selected
// band a plain VRTRasterBand (no derived band, no pixel function) whose
// sources are all <SimpleSource> elements with whole-pixel rectangles of the
// same size in the file and in the VRT (no resampling), of files of the
// VRT band's pixel type, read on one of their bands (not a mask); every
// selected band placing the same files at the same places; one nodata
// value for every selected band, if any, that the pixel type holds
// exactly; at most kMaxMosaicSources sources, none of them a VRT read so
// (nested VRTs go through GDAL). gdalbuildvrt's <ComplexSource> for a file
// with a nodata value (a <NODATA> and nothing else) is taken too when that
// value is the band's, the source overlaps no other, and the pixel type is
// of 16 bits at most or float32 (not for a NaN or 0 nodata): its nodata
// pixels then read as the same value GDAL leaves there. Areas no source
// covers read as the band's nodata value (0 without one), as GDAL fills
// them; where sources overlap, the last one listed wins, as in GDAL.
//
// Its column seams (RasterSource::column_seams) are where each file's first
// whole block column lands: a run without margins then tiles each file on
// its own block grid rather than cutting its blocks. Its row seams
// (RasterSource::row_seams) are where the first whole block row of each
// file read by decoding whole blocks lands (a compressed file's; a raw
// read takes only the rows it needs).
#ifndef EOSCALE_IO_VRT_MOSAIC_H_
#define EOSCALE_IO_VRT_MOSAIC_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eoscale/core/profile.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/io/file_state.h"
#include "gdal.h"

namespace eoscale::io::internal {

inline constexpr int kMaxMosaicSources = 256;

// A source reading `bands` (1-based) of the VRT `path`, opened by GDAL as
// `h` with `profile`, stat'ed as `state` and reporting blocks of bw x bh,
// from the files behind it; nullptr when the VRT is not such a mosaic or a
// file behind it cannot be read so (GDAL then reads the VRT, as before).
// Errors: a file behind it that does not exist, cannot be read or finds no
// descriptor left (NotFound, PermissionDenied, ResourceExhausted), naming
// the VRT and the file, where GDAL would fail at the first read.
absl::StatusOr<std::unique_ptr<RasterSource>> OpenVrtMosaic(GDALDatasetH h, const std::string& path, const std::vector<int>& bands,
                                            const Profile& profile, int bw, int bh, const FileState& state);

// How many tile reads a mosaic served in this process (for tests and
// benchmarks: proof that the path was taken).
int64_t VrtMosaicReads();

}  // namespace eoscale::io::internal

#endif  // EOSCALE_IO_VRT_MOSAIC_H_
