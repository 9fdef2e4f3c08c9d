// Renderings of a run's figures: the memory report (the seed page's table,
// built in) and the Chrome trace-event JSON of its tile tasks.
#ifndef EOSCALE_GRAPH_REPORT_H_
#define EOSCALE_GRAPH_REPORT_H_

#include <string>

#include "absl/status/status.h"
#include "eoscale/graph/run_stats.h"

namespace eoscale {

// A plain-text table: per node, tiles, busy time, bytes allocated in total
// and live at the overall peak; then the peak of live tile bytes, GDAL's
// cache in use at that peak, and the process's peak RSS.
std::string FormatMemoryReport(const RunStats& stats);

// Chrome trace-event JSON: one complete ("X") event per tile task (name =
// node, tid = worker, args = tile and bytes), and counter ("C") events for
// live tile bytes and process RSS. Opens in Perfetto / chrome://tracing.
// A distributed run's trace has one process per rank (pid = rank, named
// "rank K"): on rank 0, every rank's (RunStats::per_rank).
std::string ChromeTraceJson(const RunStats& stats);
absl::Status WriteChromeTrace(const RunStats& stats, const std::string& path);

}  // namespace eoscale

#endif  // EOSCALE_GRAPH_REPORT_H_
