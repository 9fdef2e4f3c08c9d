#include "eoscale/io/gdal_blocks.h"

#include "cpl_string.h"
#include "eoscale/io/gdal_util.h"
#include "vrtdataset.h"

namespace eoscale::io::internal {

void AppendBlocksBehind(GDALRasterBand* band, int depth, std::vector<BlockSize>* out) {
  auto* vrt = dynamic_cast<VRTSourcedRasterBand*>(band);
  std::vector<GDALRasterBand*> sources;
  for (int i = 0; vrt != nullptr && depth < 8 && i < vrt->nSources; ++i) {
    auto* simple = dynamic_cast<VRTSimpleSource*>(vrt->papoSources[i]);
    GDALRasterBand* src = simple != nullptr ? simple->GetRasterBand() : nullptr;
    if (src == nullptr) {
      sources.clear();
      break;
    }
    sources.push_back(src);
  }
  for (GDALRasterBand* src : sources) {
    // A VRT reads another VRT through a proxy band reporting the inner
    // VRT's own (128 x 128) blocks: open the inner VRT to look through it.
    GDALDataset* ds = src->GetDataset();
    if (dynamic_cast<VRTSourcedRasterBand*>(src) == nullptr && ds != nullptr &&
        EQUAL(CPLGetExtension(ds->GetDescription()), "vrt")) {
      ScopedGdalErrors quiet;  // a failure only means the proxy's blocks are used
      const char* const vrt_only[] = {"VRT", nullptr};
      GDALDatasetH inner =
          GDALOpenEx(ds->GetDescription(), GDAL_OF_RASTER | GDAL_OF_READONLY, vrt_only, nullptr, nullptr);
      if (inner != nullptr && src->GetBand() >= 1 && src->GetBand() <= GDALGetRasterCount(inner)) {
        AppendBlocksBehind(GDALRasterBand::FromHandle(GDALGetRasterBand(inner, src->GetBand())), depth + 1, out);
        GDALClose(inner);
        continue;
      }
      if (inner != nullptr) GDALClose(inner);
    }
    AppendBlocksBehind(src, depth + 1, out);
  }
  if (!sources.empty()) return;
  int bw = 0, bh = 0;
  band->GetBlockSize(&bw, &bh);
  out->push_back({bw, bh});
}

void FlushBlockCache(GDALDatasetH h, const Window& w) {
  const int count = GDALGetRasterCount(h);
  for (int b = 1; b <= count; ++b) {
    GDALRasterBandH band = GDALGetRasterBand(h, b);
    GDALFlushRasterCache(band);
    auto* vrt = dynamic_cast<VRTSourcedRasterBand*>(GDALRasterBand::FromHandle(band));
    for (int i = 0; vrt != nullptr && i < vrt->nSources; ++i) {
      auto* simple = dynamic_cast<VRTSimpleSource*>(vrt->papoSources[i]);
      if (simple == nullptr) continue;
      double rx = 0, ry = 0, rw = 0, rh = 0;
      int sx = 0, sy = 0, sw = 0, sh = 0, ox = 0, oy = 0, ow = 0, oh = 0;
      bool error = false;
      if (!simple->GetSrcDstWindow(w.x, w.y, w.width, w.height, w.width, w.height, &rx, &ry, &rw, &rh, &sx, &sy,
                                   &sw, &sh, &ox, &oy, &ow, &oh, error)) {
        continue;  // not read for this window
      }
      if (GDALRasterBand* src = simple->GetRasterBand(); src != nullptr) src->FlushCache(false);
    }
  }
}

}  // namespace eoscale::io::internal
