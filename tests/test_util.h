// Helpers shared by the tests: temporary folders, small deterministic rasters.
#ifndef EOSCALE_TESTS_TEST_UTIL_H_
#define EOSCALE_TESTS_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "eoscale/core/array.h"
#include "eoscale/core/profile.h"

namespace eoscale::testing {

// A DSM in place of EOScale's example dsm.tif, generated (no file from
// outside the repository is needed): 512 x 512 float32, nodata -32768 holes
// of every size, EPSG:32631, 0.5 m pixels (examples/s2_like/synthetic_dsm.h,
// seed 1; `make_synthetic_dsm` writes the same file). Written once per
// process into a temporary folder removed at exit; the same bytes on every
// machine. Thread-safe.
std::string DsmPath();
inline constexpr int kDsmSide = 512;
inline constexpr double kDsmNodata = -32768.0;

// The WKT of an EPSG code (GDAL/PROJ), empty if unknown.
std::string EpsgWkt(int epsg);

// A fresh temporary folder, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Names of the entries in the folder (to check no temporary file is left).
  std::vector<std::string> List() const;
  // Leaves the folder in place when destroyed.
  void Keep() { path_.clear(); }

 private:
  std::string path_;
};

// An array of `profile` filled with deterministic pseudo-random values
// (integers over the type's range, floats in [-1000, 1000)).
Array RandomArray(const Profile& profile, uint64_t seed);

// Writes `array` as a GeoTIFF with GDAL directly (not through the engine).
void WriteTiff(const Array& array, const std::string& path, int block = 256);

// Reads a whole file with GDAL directly (all bands).
Array ReadTiff(const std::string& path);

// True when both arrays have the same profile size/type and identical bytes.
bool SameBytes(const Array& a, const Array& b);

// gdalbuildvrt `args` (e.g. "-separate") over `files` into `vrt` (GDAL's
// GDALBuildVRT); fails the test (ADD_FAILURE) on an error. Returns `vrt`.
std::string GdalBuildVrt(const std::string& vrt, const std::vector<std::string>& files,
                         const std::vector<std::string>& args = {});

// gdalwarp `args` from `in` to `out` (GDAL's GDALWarp), with an exact
// transformer (-et 0) as the engine's aligned reads; fails the test (ADD_FAILURE) on
// an error.
void GdalWarp(const std::string& in, const std::string& out, const std::vector<std::string>& args);

}  // namespace eoscale::testing

#endif  // EOSCALE_TESTS_TEST_UTIL_H_
