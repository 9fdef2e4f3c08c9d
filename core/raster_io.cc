#include "eoscale/core/raster_io.h"

#include "absl/strings/str_cat.h"

namespace eoscale {

absl::Status CommitAll(const std::vector<RasterSink*>& sinks) {
  for (size_t i = 0; i < sinks.size(); ++i) {
    if (absl::Status s = sinks[i]->Commit(); !s.ok()) {
      // Newest first: each Rollback puts back what its Commit replaced.
      for (size_t j = i; j-- > 0;) sinks[j]->Rollback();
      for (size_t j = i; j < sinks.size(); ++j) sinks[j]->Abort();
      if (i == 0) return s;
      return absl::Status(s.code(), absl::StrCat(s.message(), "; the ", i, i == 1 ? " output" : " outputs",
                                                 " already moved into place ", i == 1 ? "was" : "were",
                                                 " put back as before"));
    }
  }
  for (RasterSink* s : sinks) s->Cleanup();
  for (RasterSink* s : sinks) s->Sync();  // after every unlink: one flush per folder does the work
  return absl::OkStatus();
}

}  // namespace eoscale
