// Internal: the in-memory sources a Context makes (constant images, wrapped
// memory, owned arrays) as RasterSources, so that every source goes down
// the same tile path as a file.
#ifndef EOSCALE_GRAPH_MEMORY_SOURCES_H_
#define EOSCALE_GRAPH_MEMORY_SOURCES_H_

#include <memory>
#include <string>

#include "eoscale/core/array.h"
#include "eoscale/core/raster_io.h"

namespace eoscale::internal {

// Every sample equal to `value`.
std::shared_ptr<RasterSource> MakeConstantSource(const Profile& profile, double value);
// Pixels laid out band-sequentially as `profile` says, not owned.
// REQUIRES: `data` outlives every run reading it.
std::shared_ptr<RasterSource> MakeWrappedSource(const Profile& profile, const void* data, std::string name);

// An owned array whose pixels can be dropped (Context::Release).
class ArraySource final : public RasterSource {
 public:
  explicit ArraySource(Array array);
  const Profile& profile() const override { return profile_; }
  int block_width() const override { return 256; }
  int block_height() const override { return 256; }
  absl::Status Read(const View& dst) override;
  const std::string& description() const override { return name_; }
  // Frees the pixels; later reads fail. Not thread-safe against Read.
  void Drop() { array_.reset(); }

 private:
  Profile profile_;
  std::unique_ptr<Array> array_;
  std::string name_ = "array";
};

}  // namespace eoscale::internal

#endif  // EOSCALE_GRAPH_MEMORY_SOURCES_H_
