// Figures of one run, counted (not estimated).
#ifndef EOSCALE_GRAPH_RUN_STATS_H_
#define EOSCALE_GRAPH_RUN_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace eoscale {

struct NodeStats {
  std::string name;
  int64_t tiles = 0;           // tile tasks run
  int64_t bytes_produced = 0;  // tile bytes this node allocated in total
  double busy_seconds = 0;     // summed over threads
};

struct RunStats {
  double wall_seconds = 0;
  int64_t tiles = 0;              // tiles in the grid(s)
  int64_t tasks = 0;              // tile tasks run, all nodes
  int64_t peak_live_bytes = 0;    // high-water mark of live tile bytes
  int64_t budget_bytes = 0;       // the live-byte budget the run used
  int64_t min_budget_bytes = 0;   // the minimum working set of the graph
  int64_t gdal_cache_max_bytes = 0;
  int tile_width = 0;             // first grid's tile size
  int tile_height = 0;
  std::vector<NodeStats> nodes;
};

}  // namespace eoscale

#endif  // EOSCALE_GRAPH_RUN_STATS_H_
