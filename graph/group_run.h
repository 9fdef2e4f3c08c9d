// Internal: one group of a run, executing. It owns the oneTBB flow graph
// (one flow node per exec node, one broadcast node per image, one make_edge
// per image and consumer), the admission of tiles against the budget, and
// the run's figures, trace and progress. The node kinds (source_node.cc,
// map_node.cc, reduce_node.cc, sink_node.cc) use its services.
//
// Messages carry (tile id, shared tile buffer). A buffer is freed when its
// last holder drops it: the consumer tiles waiting for it hold it, so it
// lives exactly until its last reader ran. Nothing is kept per tile of the
// image: waiting consumer tiles live in Gatherers until they fire.
#ifndef EOSCALE_GRAPH_GROUP_RUN_H_
#define EOSCALE_GRAPH_GROUP_RUN_H_

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "eoscale/core/adaptive_mutex.h"
#include "eoscale/graph/cost_model.h"
#include "eoscale/graph/plan.h"
#include "eoscale/graph/run_stats.h"
#include "eoscale/graph/tsan_annotations.h"
#include "oneapi/tbb/enumerable_thread_specific.h"
#include "oneapi/tbb/flow_graph.h"

namespace eoscale::internal {

using Clock = std::chrono::steady_clock;
using TileBuffer = std::shared_ptr<const PooledBuffer>;

// One tile of an image, shared by the `refs` consumers an edge delivers it
// to. Each takes its reference with Take.
struct TileShare {
  std::atomic<int> refs;
  TileBuffer buffer;
};
// What flows on an edge: one tile of an image. Trivially copyable on
// purpose: oneTBB copies messages inside its own (uninstrumented) task
// hand-off, and a copy that ran our code there would be invisible to TSan's
// happens-before (tsan_annotations.h); the shared state is reached only
// through Take, after the body's TsanBodyStart.
struct TileMsg {
  int64_t tile = 0;
  int64_t wave = 0;  // the admission whose cascade produced it (cost_model.h)
  TileShare* share = nullptr;
  // The buffer, and this consumer's reference dropped. Exactly once per
  // delivered message.
  TileBuffer Take() const {
    TileBuffer b = share->buffer;
    if (share->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete share;
    return b;
  }
};

// A consumer tile whose inputs have all arrived: the pieces it reads.
struct Piece {
  int input = 0;
  int64_t tile = 0;
  int64_t wave = 0;
  TileBuffer buffer;
};
struct ReadyTile {
  int64_t tile = 0;
  int64_t wave = 0;  // the latest of its pieces' waves: the task's own
  absl::InlinedVector<Piece, 9> pieces;
};

// Progress over the whole run (all groups).
struct RunProgress {
  std::mutex mu;
  int64_t done = 0;  // guarded by mu
  int64_t total = 0;
};

// Consumer tiles waiting for their inputs, created by the first piece that
// arrives and handed out by the last. Thread-safe.
class Gatherer {
 public:
  // Adds `piece` to tile v, which needs `expected()` pieces in all (asked
  // only when v's first piece arrives). True (and *ready filled) when it
  // was the last one.
  bool Add(int64_t v, absl::FunctionRef<int()> expected, Piece piece, ReadyTile* ready);
  void Clear();

 private:
  struct Waiting {
    int missing = 0;
    ReadyTile tile;
  };
  struct Shard {
    AdaptiveMutex mu;
    absl::flat_hash_map<int64_t, Waiting> waiting;  // guarded by mu
  };
  static constexpr int kShards = 16;
  std::array<Shard, kShards> shards_;
};

class GroupRun;

// The flow-graph side of one exec node.
class FlowNode {
 public:
  virtual ~FlowNode() = default;
  // Where the edges of input i end.
  virtual tbb::flow::receiver<TileMsg>& Input(int i) = 0;
  // Called once the run ended (reductions hand their value over).
  virtual void Finish() {}
};

std::unique_ptr<FlowNode> MakeSourceNode(GroupRun& run, int exec);
std::unique_ptr<FlowNode> MakeMapNode(GroupRun& run, int exec);
std::unique_ptr<FlowNode> MakeReduceNode(GroupRun& run, int exec);
std::unique_ptr<FlowNode> MakeSinkNode(GroupRun& run, int exec, RasterSink* file);
// The source node's entry: admits tile t.
void AdmitToSource(FlowNode& source, int64_t t);

class GroupRun {
 public:
  // Sinks that write files are given with set_file before Execute.
  GroupRun(GraphState& g, GroupPlan plan, CostModel costs, RunProgress* progress);
  ~GroupRun();

  int64_t min_working_set() const { return costs_.min_working_set(); }
  int64_t num_tasks() const { return plan_.grid->num_tiles() * static_cast<int64_t>(plan_.exec.size()); }
  int num_exec() const { return static_cast<int>(plan_.exec.size()); }
  void set_store_budget(int64_t b) { store_budget_ = b; }
  // A budget below the cost model's min_working_set (but not below its
  // sequential_min): tasks run one at a time, in the replay's order, so the
  // run never holds more than the replay did.
  void set_sequential(bool s) { sequential_ = s; }
  bool sequential() const { return sequential_; }
  void set_file(int exec, RasterSink* sink) { files_[exec] = sink; }
  // Times are taken from `origin`; node indices shifted by `node_offset`.
  void EnableTrace(Clock::time_point origin, int node_offset);
  absl::Status Execute(int workers, RunStats* stats);

  // --- Services for the node kinds. ---
  GraphState& graph() { return g_; }
  const GroupPlan& plan() const { return plan_; }
  tbb::flow::graph& flow() { return *fg_; }
  // A tile buffer counted in the pool under exec node `tag`; freeing it
  // returns its bytes to the admission.
  std::shared_ptr<PooledBuffer> NewBuffer(const Profile& p, const Window& w, int tag, size_t guard = 0);
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  void Fail(absl::Status s);
  // Puts tile t of the image `slot`, made by a task of `wave`, on its edges.
  void Send(int slot, int64_t t, int64_t wave, TileBuffer buffer);
  // Runs `task`, the task of exec node `exec` on `tile` (part of `wave`):
  // at once, or in sequential mode when its turn in the replay's order
  // comes (maybe on another thread, after this call returned).
  void Ordered(int exec, int64_t tile, int64_t wave, std::function<void()> task);
  // `n` messages are about to be put to bodies; each body calls Received
  // once when done.
  void Sending(int n) { in_flight_.fetch_add(n, std::memory_order_acq_rel); }
  void Received();
  // A tile task of exec node `exec`, part of `wave`, ran (figures, trace,
  // progress, the wave counted down). Called before the body that ran it
  // calls Received.
  void TaskDone(int exec, int64_t tile, int64_t wave, Clock::time_point start, int64_t bytes, bool ok);
  // Counts pieces consumer tile t of `exec` needs over all its inputs.
  int ExpectedPieces(int exec, int64_t t) const;
  // The input views of a ready tile (gathering neighbours when needed).
  // `gathers` keeps the gathered buffers alive.
  void InputViews(int exec, const ReadyTile& r, absl::InlinedVector<ConstView, 8>* views,
                  absl::InlinedVector<std::shared_ptr<PooledBuffer>, 8>* gathers);
  std::string Label(int exec) const;
  // A worker's scratch for a node grew by `bytes` (its new high-water mark
  // minus the last): summed into RunStats::scratch_peak_bytes.
  void ScratchGrew(int64_t bytes) { scratch_peak_.fetch_add(bytes, std::memory_order_relaxed); }

 private:
  void TryAdmit(bool force);
  void WaveTaskDone(int64_t wave);
  void DropParked();
  void Free(PooledBuffer* b);
  void FillStats(RunStats* stats) const;
  int ThreadIndex();

  GraphState& g_;
  GroupPlan plan_;
  CostModel costs_;
  RunProgress* progress_;
  int64_t store_budget_ = 0;
  std::vector<RasterSink*> files_;
  std::unique_ptr<tbb::flow::graph> fg_;
  std::vector<std::unique_ptr<tbb::flow::broadcast_node<TileMsg>>> images_;  // per slot
  std::vector<std::unique_ptr<FlowNode>> nodes_;                             // per exec node
  std::vector<int> sources_;

  AdaptiveMutex admit_mu_;  // taken on every free (core/adaptive_mutex.h)
  int64_t next_tile_ = 0;   // guarded by admit_mu_
  bool stopped_ = false;    // guarded by admit_mu_: the graph is being torn down
  std::atomic<int64_t> reserved_{0};
  // Waves (admitted tiles' cascades) not finished yet: each slot counts the
  // tasks wave w (slot w % kWaveSlots) still has to run. At most
  // max_waves_ are in flight: that bounds the run's read-ahead (and its
  // bookkeeping with tiny tiles) whatever the budget.
  static constexpr int kWaveSlots = 64;
  std::unique_ptr<std::atomic<int>[]> wave_left_;
  std::atomic<int> waves_in_flight_{0};
  std::atomic<bool> all_admitted_{false};  // next_tile_ reached the last tile (never reset)
  int max_waves_ = 4;
  // Sequential mode: the next task in the replay's order, and the tasks
  // ready before their turn.
  bool sequential_ = false;
  std::mutex order_mu_;
  int64_t next_wave_ = 0;  // guarded by order_mu_
  int next_order_ = 0;     // guarded by order_mu_
  absl::flat_hash_map<std::pair<int64_t, int>, std::function<void()>> parked_;  // guarded by order_mu_
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> scratch_peak_{0};
  // std::mutex rather than absl::Mutex throughout the engine: Debian's
  // Abseil is not built with TSan, which would not see its locks.
  std::mutex error_mu_;
  absl::Status error_;  // guarded by error_mu_

  struct Figures {
    std::atomic<int64_t> tiles{0};
    std::atomic<int64_t> bytes{0};
    std::atomic<int64_t> busy_ns{0};
  };
  std::unique_ptr<Figures[]> figures_;
  bool trace_ = false;
  Clock::time_point origin_;
  int node_offset_ = 0;
  tbb::enumerable_thread_specific<int> thread_ids_{-1};
  std::atomic<int> next_thread_id_{0};
  tbb::enumerable_thread_specific<std::vector<TaskEvent>> events_;
};

// TSan (tsan_annotations.h): every put happens before the body it feeds.
// One sync object for every message of every run: a body cannot reach a
// per-run object before it has acquired.
void TsanBeforePut();
void TsanBodyStart();

}  // namespace eoscale::internal

#endif  // EOSCALE_GRAPH_GROUP_RUN_H_
