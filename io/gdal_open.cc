#include "eoscale/io/gdal_open.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cpl_conv.h"
#include "cpl_string.h"
#include "eoscale/io/file_state.h"
#include "eoscale/io/gdal_util.h"
#include "eoscale/io/handle_pool.h"

namespace eoscale::io::internal {

GDALDatasetH OpenDataset(const std::string& path, const OpenHints* hints, bool* out_of_fds) {
  *out_of_fds = false;
  CPLStringList drivers, siblings;
  if (hints != nullptr && !hints->driver.empty()) drivers.AddString(hints->driver.c_str());
  if (hints != nullptr && hints->has_siblings) {
    for (const std::string& f : hints->siblings) siblings.AddString(f.c_str());
  }
  auto open = [&] {
    errno = 0;
    return GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, drivers.List(), nullptr, siblings.List());
  };
  GDALDatasetH h = open();
  if (h == nullptr && !OutOfDescriptors(errno) && (drivers.size() > 0 || siblings.size() > 0)) {
    // A driver that needs a file its GetFileList did not name: open as
    // OpenRaster did.
    drivers.Clear();
    siblings.Clear();
    h = open();
  }
  if (h != nullptr || !OutOfDescriptors(errno)) return h;
  if (HandlePool::Global().CloseIdle() > 0) {
    h = open();
    if (h != nullptr || !OutOfDescriptors(errno)) return h;
  }
  *out_of_fds = true;
  return nullptr;
}

OpenHints HintsFor(GDALDatasetH h, const std::string& path, bool regular, const std::vector<std::string>& files) {
  OpenHints hints;
  if (GDALDriverH d = GDALGetDatasetDriver(h); d != nullptr) hints.driver = GDALGetDriverShortName(d);
  if (!regular) return hints;  // a folder or a /vsi path: let GDAL look
  const std::string dir = internal::Dirname(path);
  for (const std::string& f : files) {
    if (internal::Dirname(f) == dir) hints.siblings.push_back(std::string(CPLGetFilename(f.c_str())));
  }
  hints.has_siblings = !hints.siblings.empty();
  return hints;
}

Layout Layout::Of(GDALDatasetH h, const std::vector<int>& bands) {
  Layout l;
  l.width = GDALGetRasterXSize(h);
  l.height = GDALGetRasterYSize(h);
  l.count = GDALGetRasterCount(h);
  for (int b : bands) {
    if (b > l.count) break;
    GDALRasterBandH band = GDALGetRasterBand(h, b);
    int bw = 0, bh = 0;
    GDALGetBlockSize(band, &bw, &bh);
    l.types.push_back(GDALGetRasterDataType(band));
    l.blocks.emplace_back(bw, bh);
  }
  return l;
}

std::string DescribeChange(const Layout& before, const Layout& now, const std::vector<int>& bands) {
  std::vector<std::string> what;
  if (before.width != now.width || before.height != now.height) {
    what.push_back(absl::StrCat("raster size ", before.width, "x", before.height, " -> ", now.width, "x", now.height));
  }
  if (before.count != now.count) what.push_back(absl::StrCat("bands ", before.count, " -> ", now.count));
  for (size_t i = 0; i < before.types.size(); ++i) {
    if (i >= now.types.size()) {
      what.push_back(absl::StrCat("band ", bands[i], " no longer exists"));
      continue;
    }
    if (before.types[i] != now.types[i]) {
      what.push_back(absl::StrCat("band ", bands[i], " pixel type ", GDALGetDataTypeName(before.types[i]), " -> ",
                                  GDALGetDataTypeName(now.types[i])));
    }
    if (before.blocks[i] != now.blocks[i]) {
      what.push_back(absl::StrCat("band ", bands[i], " block size ", before.blocks[i].first, "x",
                                  before.blocks[i].second, " -> ", now.blocks[i].first, "x", now.blocks[i].second));
    }
  }
  return absl::StrJoin(what, "; ");
}

}  // namespace eoscale::io::internal
