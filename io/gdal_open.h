// Internal to io/: opening a GDAL dataset for a GdalSource (gdal_source.cc)
// and what a reopened handle must match. Not installed.
#ifndef EOSCALE_IO_GDAL_OPEN_H_
#define EOSCALE_IO_GDAL_OPEN_H_

#include <string>
#include <utility>
#include <vector>

#include "gdal.h"

namespace eoscale::io::internal {

// What OpenRaster learnt that makes reopening cheaper: the driver that read
// the file (GDAL then skips asking every driver) and the files beside it that
// GDAL looked for (sidecars: .ovr, .aux.xml, .msk...). Without the latter
// GDAL lists the whole folder on every open: with 500 inputs in one folder,
// most of what a reopen costs.
struct OpenHints {
  std::string driver;
  bool has_siblings = false;
  std::vector<std::string> siblings;  // basenames, in the folder of the path
};

// Opens `path` read-only; when descriptors ran out, closes the pool's idle
// handles and tries once more. `out_of_fds` tells why a null came back.
GDALDatasetH OpenDataset(const std::string& path, const OpenHints* hints, bool* out_of_fds);

// The hints for reopening `path`, opened as `h` and reading `files`.
OpenHints HintsFor(GDALDatasetH h, const std::string& path, bool regular, const std::vector<std::string>& files);

// The layout of the selected bands: what a reopened handle must match for
// reads to fit the tile buffers.
struct Layout {
  int width = 0, height = 0, count = 0;
  std::vector<GDALDataType> types;                 // per selected band
  std::vector<std::pair<int, int>> blocks;         // per selected band

  static Layout Of(GDALDatasetH h, const std::vector<int>& bands);
};

// What differs between two layouts of `bands`, for a message ("" when
// nothing does).
std::string DescribeChange(const Layout& before, const Layout& now, const std::vector<int>& bands);

}  // namespace eoscale::io::internal

#endif  // EOSCALE_IO_GDAL_OPEN_H_
