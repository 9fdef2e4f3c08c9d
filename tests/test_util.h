// Helpers shared by the tests: temporary folders, small deterministic rasters.
#ifndef EOSCALE_TESTS_TEST_UTIL_H_
#define EOSCALE_TESTS_TEST_UTIL_H_

#include <cstdint>
#include <string>

#include "eoscale/core/array.h"
#include "eoscale/core/profile.h"

namespace eoscale::testing {

// Path of ../shared/data/dsm.tif (EOScale's example DSM, 512x512 f32).
std::string DsmPath();

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

}  // namespace eoscale::testing

#endif  // EOSCALE_TESTS_TEST_UTIL_H_
