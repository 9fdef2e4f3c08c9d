// Internal: a distributed run's progress, clocks and figures gathered on
// rank 0 (docs/distributed.md, "Progress, figures and traces").
//
// GraphState::Execute creates a DistributedRunScope first and it is
// destroyed last, on every return. For a run across several ranks it
//   - starts the ranks' clocks together (Distribution::Barrier), so that
//     the ranks' trace events line up;
//   - routes the progress callback: every rank sends its count of finished
//     tile tasks to rank 0 without blocking (from the thread that called
//     Run, when a task it ran finishes, at most every 20 ms); rank 0's
//     callback sees the job's progress, the others' their own;
//   - at the end gathers on rank 0 every rank's final count (rank 0's
//     callback then sees done == total once when every task of the job
//     ran) and every rank's RunStats, merged (run_stats.h: per_rank).
// All of it is point to point to rank 0 plus one barrier at the start,
// made by every rank whatever happened in its run.
#ifndef EOSCALE_GRAPH_DISTRIBUTED_STATS_H_
#define EOSCALE_GRAPH_DISTRIBUTED_STATS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "eoscale/graph/context.h"
#include "eoscale/graph/distribution.h"
#include "eoscale/graph/graph_state.h"
#include "eoscale/graph/run_stats.h"

namespace eoscale::internal {

class DistributedRunScope {
 public:
  DistributedRunScope(GraphState& g, const std::vector<SinkRequest>& sinks);
  ~DistributedRunScope();
  DistributedRunScope(const DistributedRunScope&) = delete;
  DistributedRunScope& operator=(const DistributedRunScope&) = delete;

 private:
  bool OnProgress(const Progress& p);
  Progress JobProgress(const std::string& node) const;

  GraphState& g_;
  Distribution* d_ = nullptr;  // null: not a run across several ranks
  ProgressCallback user_;
  std::thread::id run_thread_;
  // Called one at a time by the engine (its progress mutex).
  int64_t own_done_ = 0, own_total_ = 0;
  std::vector<int64_t> done_, total_;  // rank 0: the latest heard from each rank
  std::chrono::steady_clock::time_point last_post_{};
};

// RunStats on the wire, and rank k's figures merged into rank 0's `into`.
std::string SerializeRunStats(const RunStats& s);
bool DeserializeRunStats(const std::string& bytes, RunStats* s);
void MergeRankStats(RunStats& into, const RunStats& rank_stats, int rank);
RankStats OwnFigures(const RunStats& s);

}  // namespace eoscale::internal

#endif  // EOSCALE_GRAPH_DISTRIBUTED_STATS_H_
