// Figures of one run, counted (not estimated).
#ifndef EOSCALE_GRAPH_RUN_STATS_H_
#define EOSCALE_GRAPH_RUN_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace eoscale {

struct NodeStats {
  std::string name;
  int node_id = -1;            // logical node id; -1 for a sink (write, read into memory)
  std::string kind;            // "source", "map", "reduce", "write", "memory"
  int64_t tiles = 0;           // tile tasks run
  int64_t bytes_produced = 0;  // tile bytes this node allocated in total
  int64_t live_at_peak = 0;    // of this node's bytes, those live at the run's peak
  double busy_seconds = 0;     // summed over threads
  // A Map that computed each tile grown by this many pixels so that its
  // readers did not gather neighbours (ContextOptions::grow_tiles); 0: not.
  int grown_by = 0;
};

// One tile task, for traces. Times are from the start of the run.
struct TaskEvent {
  int node = 0;  // index into RunStats::nodes
  int tile = 0;
  int thread = 0;  // worker index, 0-based
  int64_t start_ns = 0;
  int64_t duration_ns = 0;
  int64_t bytes = 0;  // tile bytes the task allocated
  int rank = 0;       // distributed runs: the rank that ran it
};

// Sampled about every millisecond while tracing.
struct CounterSample {
  int64_t time_ns = 0;
  int64_t live_bytes = 0;  // live tile bytes
  int64_t rss_bytes = 0;   // process resident set
  int rank = 0;            // distributed runs: the rank sampled
};

// One rank's own figures of a distributed run (RunStats::per_rank).
struct RankStats {
  int64_t tiles = 0;        // tiles of its grids (owned rows and halo rows)
  int64_t owned_tiles = 0;  // tiles of the single-process grids it owns
  int64_t tasks = 0;
  int64_t peak_live_bytes = 0;
  int64_t budget_bytes = 0;
  int64_t peak_rss_bytes = 0;
  double wall_seconds = 0;
};

struct RunStats {
  double wall_seconds = 0;
  int64_t tiles = 0;              // tiles in the grid(s)
  int64_t tasks = 0;              // tile tasks run, all nodes
  int64_t peak_live_bytes = 0;    // high-water mark of live tile bytes
  int64_t budget_bytes = 0;       // the live-byte budget the run used
  int64_t min_budget_bytes = 0;   // the minimum working set of the graph (one task at a time)
  // The smallest budget with which tasks overlap; below it (and not below
  // min_budget_bytes), the run's tasks ran one at a time (`sequential`).
  int64_t min_parallel_budget_bytes = 0;
  bool sequential = false;
  // The budget kept for the filters' per-worker scratch (workers x each
  // Map's MapFilter::scratch_bytes for its largest tile), outside the live
  // tile bytes; and the scratch measured: the sum over (worker, node) of the
  // most each held, for scratch types that tell their bytes.
  int64_t scratch_reserve_bytes = 0;
  int64_t scratch_peak_bytes = 0;
  int64_t gdal_cache_max_bytes = 0;
  int tile_width = 0;             // first grid's tile size
  int tile_height = 0;
  int64_t gdal_cache_at_peak_bytes = 0;  // GDAL block cache in use at the peak
  int64_t peak_rss_bytes = 0;     // the process's peak resident set, at the end of the run
  int workers = 0;
  // Distributed runs (ContextOptions::distribution): this rank, the job's
  // ranks, and over all ranks the output pixels owned and the pixels each
  // rank's region run computed (owned plus recomputed halo).
  // halo_fraction = computed / owned - 1 (0 for one process).
  int rank = 0;
  int ranks = 1;
  int64_t owned_pixels = 0;
  int64_t computed_pixels = 0;
  double halo_fraction = 0;
  // This rank's tiles of the single-process grids (its owned rows).
  int64_t owned_tiles = 0;
  // Outputs every rank wrote in place (MPI-IO into one GeoTIFF), and those
  // rank 0 wrote from the tiles the ranks sent it during the run (a
  // compressed .tif; Distribution::CanGatherTiles); the other .tif outputs
  // were assembled by rank 0 from the ranks' parts.
  int outputs_in_place = 0;
  int outputs_gathered = 0;
  // On rank 0 after a distributed run of several ranks, the job's figures
  // (the other ranks keep their own, per_rank empty): tiles is the owned
  // tiles summed (the single-process grids' tiles that meet the outputs);
  // tasks, per-node tiles, bytes and busy time are summed over the ranks;
  // peak_live_bytes, peak_rss_bytes, wall_seconds and the nodes'
  // live_at_peak are the largest rank's; per_rank[k] is rank k's own; the
  // traces hold every rank's events (TaskEvent::rank), each rank's clock
  // starting at a barrier shared by the ranks.
  std::vector<RankStats> per_rank;
  std::vector<NodeStats> nodes;
  // Filled when ContextOptions::trace is set.
  std::vector<TaskEvent> tasks_trace;
  std::vector<CounterSample> counters_trace;
};

}  // namespace eoscale

#endif  // EOSCALE_GRAPH_RUN_STATS_H_
