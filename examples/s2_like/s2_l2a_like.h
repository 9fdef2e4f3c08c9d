// A synthetic product laid out as Sentinel-2 Level-2A ships its bands: one
// JPEG 2000 file per band and date, B03 (green) and B08 (NIR) at 10 m, B11
// (SWIR 1.6 um) at 20 m, UInt16 digital numbers in the L2A convention of
// processing baseline 04.00 and later: DN = reflectance x 10000 + 1000
// (BOA_QUANTIFICATION_VALUE 10000, BOA_ADD_OFFSET -1000; 0 would be nodata
// and never occurs). 15 significant bits, lossless (reversible) JPEG 2000
// through GDAL's JP2OpenJPEG driver, 1024 x 1024 tiles (smaller images: one
// tile), georeferenced by GMLJP2 in UTM zone 30N (EPSG:32630), upper-left
// corner (399960, 5000040).
//
// The scene is make_s2_like's (s2_like.h: lakes, a river, vegetation, a
// water extent that changes a little between dates): B03 is its green band,
// B08 its NIR band, and B11 a SWIR reflectance derived from its red and NIR
// bands (about 0.02 on water, 0.19 on dense vegetation, 0.31 on bare soil),
// averaged over 2 x 2 pixels to 20 m. Water has B03 > B11 (MNDWI > 0).
//
// Files, for date k (dates 10 days apart from 2023-06-05):
//   DIR/T30TXN_<YYYYMMDD>T105619_B03_10m.jp2   size x size
//   DIR/T30TXN_<YYYYMMDD>T105619_B08_10m.jp2   size x size
//   DIR/T30TXN_<YYYYMMDD>T105619_B11_20m.jp2   ceil(size / 2) squared
// The content depends only on (seed, size, date). `make_s2_like OUTDIR --l2a`
// writes it from the command line.
#ifndef EOSCALE_EXAMPLES_S2_LIKE_S2_L2A_LIKE_H_
#define EOSCALE_EXAMPLES_S2_LIKE_S2_L2A_LIKE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace eoscale::examples {

struct S2L2aDate {
  std::string date;  // YYYYMMDD
  std::string b03, b08, b11;
};

// The file names of date k (1-based) in `dir`, without writing anything.
S2L2aDate S2L2aLikeNames(const std::string& dir, int date);

// Writes the product's dates 1..`dates` into `dir` (created if needed) and
// returns their files in date order. Each file is written under a hidden
// temporary name and renamed when complete. A file already present that
// carries this generator's marker for the same (seed, size, date, band) is
// kept; any other file under a final name is replaced. Intermediate files
// (make_s2_like's 4-band GeoTIFFs, uncompressed bands) live in a hidden
// folder of `dir` removed before returning, whatever happens.
//
// Errors: size < 2 or dates < 1 (InvalidArgument); no JP2OpenJPEG driver
// (Unimplemented); a folder or file that cannot be written (names it).
absl::StatusOr<std::vector<S2L2aDate>> MakeS2L2aLike(const std::string& dir, int size, int dates, uint32_t seed = 42);

}  // namespace eoscale::examples

#endif  // EOSCALE_EXAMPLES_S2_LIKE_S2_L2A_LIKE_H_
