// Deterministic synthetic Sentinel-2-like rasters for examples and benchmarks.
//
// Each date is a 4-band (B, G, R, NIR) int16 GeoTIFF of size x size pixels,
// reflectances x 10000 in [0, 10000], tiled 256 x 256, band-interleaved,
// uncompressed, EPSG:32630 with 10 m pixels at (399960, 5000040). Water
// (G > NIR) forms smooth lakes and a meandering river; its extent varies a
// little from date to date (water level and small local changes), so the
// AND of the per-date water masks is a strict, non-empty subset of each
// date's mask. Land has NIR well above G. A small per-pixel noise (a hash of
// x, y, band, date and the seed) makes the edges ragged.
//
// The content of date k depends only on (seed, size, k): the same call gives
// the same bytes on any machine and with any number of threads.
#ifndef EOSCALE_EXAMPLES_S2_LIKE_S2_LIKE_H_
#define EOSCALE_EXAMPLES_S2_LIKE_S2_LIKE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace eoscale::examples {

// Writes `dir`/date_1.tif ... `dir`/date_<dates>.tif (creating `dir` if
// needed) and returns their paths in date order.
//
// Each file is written as date_k.tif.tmp and renamed when complete, so a file
// under its final name is always whole. A final file that exists and carries
// this generator's marker for the same (seed, size, date) is kept as is; any
// other file under that name is overwritten.
//
// Generation runs on oneTBB (rows of blocks in parallel, written in order by
// one thread at a time) with at most (threads + 2) rows of blocks in flight,
// each of 256 x size x 8 bytes (22.5 MB at size 10980).
//
// `stop`, when set, is asked before each date: true stops the generation
// (CANCELLED; the dates already written stay, complete).
//
// Errors: size <= 0 or dates <= 0 (InvalidArgument); a directory that cannot
// be created or a file that cannot be written (the status names the path).
// Thread safety: concurrent calls must use different directories.
absl::StatusOr<std::vector<std::string>> MakeS2Like(const std::string& dir, int size, int dates,
                                                    uint32_t seed = 42,
                                                    const std::function<bool()>& stop = nullptr);

}  // namespace eoscale::examples

#endif  // EOSCALE_EXAMPLES_S2_LIKE_S2_LIKE_H_
