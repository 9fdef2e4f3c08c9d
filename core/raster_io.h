// The interfaces through which the graph reads and writes rasters. The graph
// knows files only through these; io/ implements them with GDAL.
#ifndef EOSCALE_CORE_RASTER_IO_H_
#define EOSCALE_CORE_RASTER_IO_H_

#include <string>

#include "absl/status/status.h"
#include "eoscale/core/profile.h"
#include "eoscale/core/view.h"

namespace eoscale {

// A raster that can be read by windows. Read is thread-safe: it may be
// called concurrently from several threads.
class RasterSource {
 public:
  virtual ~RasterSource() = default;
  // The profile of the (band-selected) image.
  virtual const Profile& profile() const = 0;
  // Natural block size of the storage (e.g. a GeoTIFF's tile size).
  virtual int block_width() const = 0;
  virtual int block_height() const = 0;
  // Reads the pixels of dst.window() into dst (all selected bands).
  // REQUIRES: dst's type and band count match profile(); the window is
  // inside the image.
  virtual absl::Status Read(const View& dst) = 0;
  // Names the raster in messages (its path).
  virtual const std::string& description() const = 0;
};

// A raster being written, one window at a time. Not thread-safe: the graph
// calls Write from one task at a time. Commit or Abort ends it.
class RasterSink {
 public:
  virtual ~RasterSink() = default;
  // Writes src (covering src.window()) into the raster.
  virtual absl::Status Write(const ConstView& src) = 0;
  // Finishes the file and moves it under its final name.
  virtual absl::Status Commit() = 0;
  // Drops the file: nothing is left under the final name or the temporary one.
  virtual void Abort() = 0;
  virtual const std::string& path() const = 0;
};

}  // namespace eoscale

#endif  // EOSCALE_CORE_RASTER_IO_H_
