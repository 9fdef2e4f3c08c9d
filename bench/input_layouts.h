// The benchmarks' inputs in other layouts, derived with plain GDAL from the
// band-interleaved 4-band int16 GeoTIFFs of make_s2_like (date_k.tif):
//
//   pixel    pixel-interleaved GeoTIFF, tiled 256 x 256, uncompressed
//   deflate  band-interleaved GeoTIFF, tiled 256 x 256, DEFLATE + PREDICTOR=2
//   jp2      one lossless JPEG 2000 file per band (date_k_b<b>.jp2, 1024 x
//            1024 tiles as Sentinel-2 L2A ships them) and date_k.vrt
//            stacking them back into one 4-band dataset
//
// and 2 x 2 mosaics of any of them as a VRT (WriteMosaicVrt).
//
// Every file is written under a temporary name (".part") and renamed when
// complete: a file under its final name is complete and is reused, an
// interrupted generation leaves only a ".part" that the next one overwrites.
//
// Nothing here starts oneTBB (GDAL only). Not thread-safe: GDAL's
// translate and the files' names are not shared between callers.
#ifndef EOSCALE_BENCH_INPUT_LAYOUTS_H_
#define EOSCALE_BENCH_INPUT_LAYOUTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace eoscale::bench {

// Pixel-interleaved copies of `dates` (GeoTIFFs) into `dir` (created if
// needed) under the same file names, tiled 256 x 256, uncompressed; made
// only where missing. Errors name the file.
absl::Status PixelInterleavedCopies(const std::vector<std::string>& dates, const std::string& dir);

// Band-interleaved DEFLATE (PREDICTOR=2) copies, tiled 256 x 256, as above.
absl::Status DeflateCopies(const std::vector<std::string>& dates, const std::string& dir);

// The file of band `band` (1-based) of the date whose stacked VRT is
// `vrt` (DIR/date_k.vrt -> DIR/date_k_b<band>.jp2).
std::string Jp2BandPath(const std::string& vrt, int band);

// For each of `dates` (DIR/date_k.tif): every band as its own lossless
// JPEG 2000 file (JP2OpenJPEG: CODEC=JP2, REVERSIBLE=YES, QUALITY=100,
// 1024 x 1024 tiles, the creation options of examples/s2_like/s2_l2a_like.cc
// without NBITS, the data being signed int16) and `dir`/date_k.vrt stacking
// them in band order. Made only where missing. Errors: no JP2OpenJPEG
// driver (Unimplemented), a file that cannot be read or written (names it).
absl::Status Jp2Copies(const std::vector<std::string>& dates, const std::string& dir);

// Writes `out` (a .vrt, through a temporary name) as a 2 x 2 mosaic of the
// raster `source`: twice its width and height, every band made of 4 simple
// sources, the whole of `source` placed at (0,0), (W,0), (0,H) and (W,H);
// the source's data type, nodata value, CRS, origin and pixel size carried
// over. The source is referenced relative to the VRT's folder. Does nothing
// if `out` exists. Errors: `source` unreadable, `out` unwritable.
absl::Status WriteMosaicVrt(const std::string& source, const std::string& out);

}  // namespace eoscale::bench

#endif  // EOSCALE_BENCH_INPUT_LAYOUTS_H_
