// libFuzzer target: arbitrary bytes opened as a raster through io/
// (io::OpenRaster, the path Context::Open takes), then a window of it read
// on a selection of its bands. Every input must give a clear error (a
// Status with a message naming the file) or a valid image whose reads
// either succeed or fail with a Status: never a crash, a hang or undefined
// behaviour in our code.
//
// GDAL and its drivers come from Debian and are not instrumented: a crash
// inside them still stops the fuzzer (SEGV), which is what we want to know.
#include <fcntl.h>
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cpl_conv.h"
#include "eoscale/core/array.h"
#include "eoscale/io/gdal_raster.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "open_raster contract broken: %s\n", what.c_str());
  std::abort();
}

std::string TempPath() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/eoscale-fuzz-" + std::to_string(::getpid()) +
         ".img";
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Nothing leaves the machine and nothing outside the input is read: GDAL
  // may not follow a crafted file to the network or to sibling files.
  CPLSetConfigOption("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR");
  CPLSetConfigOption("GDAL_HTTP_TIMEOUT", "1");
  CPLSetConfigOption("GDAL_HTTP_MAX_RETRY", "0");
  CPLSetConfigOption("CPL_VSIL_CURL_ALLOWED_EXTENSIONS", ".none");
  CPLSetConfigOption("GDAL_SKIP", "WMS WMTS WCS HTTP DAAS EEDAI PLMOSAIC OGCAPI STACIT STACTA NGW ESRIC");
  eoscale::io::EnsureGdalInitialized();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // The first bytes choose the bands and the window; the rest is the file.
  const uint8_t band_byte = data[0], window_byte = data[1];
  const std::string path = TempPath();
  {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) Fail("cannot create the temporary file");
    const uint8_t* p = data + 2;
    size_t left = size - 2;
    while (left > 0) {
      const ssize_t n = ::write(fd, p, left);
      if (n <= 0) Fail("cannot write the temporary file");
      p += n;
      left -= static_cast<size_t>(n);
    }
    ::close(fd);
  }
  std::vector<int> bands;
  if (band_byte & 0x80) bands = {1 + (band_byte & 0x3), 1 + ((band_byte >> 2) & 0x7)};
  absl::StatusOr<std::unique_ptr<eoscale::RasterSource>> src = eoscale::io::OpenRaster(path, bands);
  if (!src.ok()) {
    if (src.status().message().empty()) Fail("an error without a message");
    if (std::string(src.status().message()).find(path) == std::string::npos) {
      Fail("an error that does not name the file: " + src.status().ToString());
    }
    ::unlink(path.c_str());
    return 0;
  }
  const eoscale::Profile& p = (*src)->profile();
  if (p.width <= 0 || p.height <= 0 || p.bands <= 0) Fail("a raster of no pixels was accepted");
  if ((*src)->block_width() <= 0 || (*src)->block_height() <= 0) Fail("a non-positive block size");
  // A window of at most 64 x 64 pixels and 4 bands (a crafted header may
  // claim any size; we read little of it).
  if (p.bands <= 4) {
    const int w = std::min(p.width, 1 + (window_byte & 0x3f));
    const int h = std::min(p.height, 1 + ((window_byte >> 2) & 0x3f));
    const int x = (window_byte & 0x40) ? p.width - w : 0;
    const int y = (window_byte & 0x80) ? p.height - h : 0;
    eoscale::Profile wp = p;
    wp.width = w;
    wp.height = h;
    eoscale::Array buf(wp);
    const eoscale::View v = eoscale::View::Contiguous(buf.mutable_data(), p.type, p.bands, {x, y, w, h});
    const absl::Status st = (*src)->Read(v);
    if (!st.ok() && st.message().empty()) Fail("a read error without a message");
    // The same window once more (a second read of a handle that failed).
    (void)(*src)->Read(v);
  }
  src->reset();
  ::unlink(path.c_str());
  return 0;
}
