#include "eoscale/core/raster_io.h"

namespace eoscale {

absl::Status CommitAll(const std::vector<RasterSink*>& sinks) {
  for (size_t i = 0; i < sinks.size(); ++i) {
    if (absl::Status s = sinks[i]->Commit(); !s.ok()) {
      for (size_t j = i; j-- > 0;) sinks[j]->Rollback();
      for (size_t j = i; j < sinks.size(); ++j) sinks[j]->Abort();
      return s;
    }
  }
  for (RasterSink* s : sinks) s->Cleanup();
  return absl::OkStatus();
}

}  // namespace eoscale
