// Writes the seed corpus of fuzz_open_raster (tests/fuzz/corpus/open_raster/):
// tiny rasters in the formats and layouts io/ meets, each prefixed with the
// two bytes the target reads first (band selection, window). Run once by
// hand when the seeds change (docs/fuzzing.md); the files are committed.
//
//   make_raster_seeds OUTDIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cpl_conv.h"
#include "cpl_string.h"
#include "cpl_vsi.h"
#include "gdal.h"

namespace {

// Creates `name` in /vsimem/ with GDAL, fills it with a ramp, and writes the
// file's bytes (after the two prefix bytes) to OUTDIR/name.
void Seed(const std::string& dir, const std::string& name, const char* driver, int w, int h, int bands,
          GDALDataType type, std::vector<std::string> options, unsigned char band_byte, unsigned char window_byte,
          bool georef = false, bool nodata = false) {
  const std::string mem = "/vsimem/" + name;
  char** opts = nullptr;
  for (const std::string& o : options) opts = CSLAddString(opts, o.c_str());
  GDALDatasetH h_ds = GDALCreate(GDALGetDriverByName(driver), mem.c_str(), w, h, bands, type, opts);
  CSLDestroy(opts);
  if (h_ds == nullptr) {
    std::fprintf(stderr, "cannot create %s\n", name.c_str());
    return;
  }
  if (georef) {
    double gt[6] = {399960.0, 10.0, 0.0, 5000040.0, 0.0, -10.0};
    GDALSetGeoTransform(h_ds, gt);
    GDALSetProjection(h_ds, "EPSG:32630");
  }
  std::vector<double> ramp(static_cast<size_t>(w) * h);
  for (int b = 1; b <= bands; ++b) {
    for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<double>(i * 7 + b * 3) - 20.0;
    GDALRasterBandH band = GDALGetRasterBand(h_ds, b);
    if (nodata) GDALSetRasterNoDataValue(band, -20.0);
    if (GDALRasterIO(band, GF_Write, 0, 0, w, h, ramp.data(), w, h, GDT_Float64, 0, 0) != CE_None) {
      std::fprintf(stderr, "cannot write %s\n", name.c_str());
    }
  }
  GDALClose(h_ds);
  vsi_l_offset size = 0;
  GByte* bytes = VSIGetMemFileBuffer(mem.c_str(), &size, TRUE);
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.put(static_cast<char>(band_byte)).put(static_cast<char>(window_byte));
  out.write(reinterpret_cast<const char*>(bytes), static_cast<std::streamsize>(size));
  CPLFree(bytes);
}

void Text(const std::string& dir, const std::string& name, const std::string& text, unsigned char band_byte,
          unsigned char window_byte) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.put(static_cast<char>(band_byte)).put(static_cast<char>(window_byte));
  out << text;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_raster_seeds OUTDIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  GDALAllRegister();
  Seed(dir, "strips_u8.tif", "GTiff", 5, 3, 1, GDT_Byte, {}, 0x00, 0xff);
  Seed(dir, "tiled_i16_3bands.tif", "GTiff", 17, 9, 3, GDT_Int16,
       {"TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16", "INTERLEAVE=BAND"}, 0x86, 0x41, true);
  Seed(dir, "deflate_f32_nodata.tif", "GTiff", 7, 5, 1, GDT_Float32, {"COMPRESS=DEFLATE", "PREDICTOR=3"}, 0x00, 0x83,
       true, true);
  Seed(dir, "signed_byte.tif", "GTiff", 4, 4, 1, GDT_Byte, {"PIXELTYPE=SIGNEDBYTE"}, 0x00, 0x10);
  Seed(dir, "pixel_interleaved_f64.tif", "GTiff", 3, 3, 2, GDT_Float64, {"INTERLEAVE=PIXEL"}, 0x84, 0x05);
  Seed(dir, "one_pixel_u32.tif", "GTiff", 1, 1, 1, GDT_UInt32, {}, 0x00, 0x00);
  Seed(dir, "complex_cint16.tif", "GTiff", 2, 2, 1, GDT_CInt16, {}, 0x00, 0x00);
  Seed(dir, "lzw_u16_4bands.tif", "GTiff", 9, 6, 4, GDT_UInt16, {"COMPRESS=LZW", "TILED=YES"}, 0x8d, 0xc3);
  Seed(dir, "bigtiff_i32.tif", "GTiff", 6, 2, 1, GDT_Int32, {"BIGTIFF=YES"}, 0x00, 0x22);
  Text(dir, "grid.asc",
       "ncols 3\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 2 3\n4 -9999 6\n", 0x00,
       0x07);
  Text(dir, "image.pgm", std::string("P5\n3 2\n255\n") + std::string("\x01\x02\x03\x04\x05\x06", 6), 0x00, 0x00);
  Text(dir, "no_sources.vrt",
       "<VRTDataset rasterXSize=\"4\" rasterYSize=\"3\">\n"
       "  <VRTRasterBand dataType=\"Byte\" band=\"1\"/>\n"
       "  <VRTRasterBand dataType=\"Float32\" band=\"2\"/>\n"
       "</VRTDataset>\n",
       0x81, 0x00);
  Text(dir, "not_a_raster.txt", "this is not a raster\n", 0x00, 0x00);
  return 0;
}
