// Internal to io/: a source's blocks as GDAL holds them: the blocks of the
// files behind a (VRT) band, and dropping a handle's blocks from GDAL's
// cache after a read. Not installed.
#ifndef EOSCALE_IO_GDAL_BLOCKS_H_
#define EOSCALE_IO_GDAL_BLOCKS_H_

#include <vector>

#include "eoscale/core/tiling.h"
#include "gdal.h"
#include "gdal_priv.h"

namespace eoscale::io::internal {

// Appends the blocks of the files behind `band`: for a VRT band, those of
// its sources' bands, looked through recursively (a gdalbuildvrt mosaic of
// 256 x 256-tiled GeoTIFFs has bands of 128 x 128 blocks: tiles aligned to
// 128 would decode each source block 4 times); for any other band, or a VRT
// source that is not a simple one, the band's own blocks. gdalbuildvrt
// records each source's block size in the VRT, so asking does not open the
// sources (only a VRT named as a source is opened, to look through it).
void AppendBlocksBehind(GDALRasterBand* band, int depth, std::vector<BlockSize>* out);

// Drops the blocks `h` holds in GDAL's block cache (all its bands: reading
// one band of a pixel-interleaved GeoTIFF caches the others' blocks too),
// and for a VRT those that its sources meeting `w` (the window just read)
// hold: flushing a VRT band does not flush its sources. Measured: the water
// mask over four 2 x 2 gdalbuildvrt mosaics of 3500^2 GeoTIFFs grew GDAL's
// cache to 508 MiB of RSS against a 48 MiB budget, and ran 2x slower than
// with the sources flushed. A source's flush never opens its file.
void FlushBlockCache(GDALDatasetH h, const Window& w);

}  // namespace eoscale::io::internal

#endif  // EOSCALE_IO_GDAL_BLOCKS_H_
