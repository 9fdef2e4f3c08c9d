#include "eoscale/graph/group_run.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "eoscale/graph/graph_state.h"
#include "oneapi/tbb/global_control.h"
#include "oneapi/tbb/info.h"
#include "oneapi/tbb/task_arena.h"

namespace eoscale::internal {
namespace {

char tsan_flow = 0;

// oneTBB's default pool has cores - 1 workers. While runs asking for more
// threads than that are in progress, the process's thread limit must hold
// all of their workers (plus two: oneTBB may lend a worker to an arena whose
// only thread is its caller, and with one spare a 1-worker and a 4-worker
// context running together were measured to leave the second at 3 threads
// now and then). So the first such run raises the limit, later ones raise
// it further, and it goes back to oneTBB's own when the last run ends: it is
// never lowered below the default, and nothing is left behind between runs
// (ContextOptions::workers says so). While raised, oneTBB applies the
// smallest live limit, so a host's own larger global_control is capped to
// ours for the duration of the runs.
class ThreadLimit {
 public:
  explicit ThreadLimit(int workers) : workers_(workers) {
    std::lock_guard<std::mutex> l(mu_);
    active_ += workers_;
    if (active_ <= tbb::info::default_concurrency()) return;
    const size_t want = static_cast<size_t>(active_ + 2);
    if (want > raised_to_) {
      auto next = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, want);
      raised_ = std::move(next);
      raised_to_ = want;
    }
  }
  ~ThreadLimit() {
    std::lock_guard<std::mutex> l(mu_);
    active_ -= workers_;
    if (active_ == 0) {
      raised_.reset();
      raised_to_ = 0;
    }
  }
  ThreadLimit(const ThreadLimit&) = delete;
  ThreadLimit& operator=(const ThreadLimit&) = delete;

 private:
  const int workers_;
  static inline std::mutex mu_;
  static inline int active_ = 0;                                  // guarded by mu_: workers of runs in progress
  static inline std::unique_ptr<tbb::global_control> raised_;     // guarded by mu_
  static inline size_t raised_to_ = 0;                            // guarded by mu_
};

}  // namespace

void TsanBeforePut() { TsanRelease(&tsan_flow); }
void TsanBodyStart() { TsanAcquire(&tsan_flow); }

bool Gatherer::Add(int64_t v, absl::FunctionRef<int()> expected, Piece piece, ReadyTile* ready) {
  Shard& s = shards_[static_cast<uint64_t>(v) % kShards];
  std::lock_guard<AdaptiveMutex> l(s.mu);
  auto [it, inserted] = s.waiting.try_emplace(v);
  Waiting& w = it->second;
  if (inserted) {
    w.missing = expected();
    w.tile.tile = v;
  }
  w.tile.wave = std::max(w.tile.wave, piece.wave);
  w.tile.pieces.push_back(std::move(piece));
  if (--w.missing > 0) return false;
  *ready = std::move(w.tile);
  s.waiting.erase(it);
  return true;
}

void Gatherer::Clear() {
  for (Shard& s : shards_) {
    std::lock_guard<AdaptiveMutex> l(s.mu);
    s.waiting.clear();
  }
}

GroupRun::GroupRun(GraphState& g, GroupPlan plan, CostModel costs, RunProgress* progress)
    : g_(g), plan_(std::move(plan)), costs_(std::move(costs)), progress_(progress),
      files_(plan_.exec.size(), nullptr), wave_left_(new std::atomic<int>[kWaveSlots]),
      figures_(new Figures[plan_.exec.size()]) {
  for (int i = 0; i < kWaveSlots; ++i) wave_left_[i].store(0, std::memory_order_relaxed);
}

GroupRun::~GroupRun() = default;

void GroupRun::EnableTrace(Clock::time_point origin, int node_offset) {
  trace_ = true;
  origin_ = origin;
  node_offset_ = node_offset;
}

std::string GroupRun::Label(int exec) const {
  const ExecDesc& e = plan_.exec[exec];
  return e.node != nullptr ? e.node->Label() : absl::StrCat("'", e.name, "'");
}

std::shared_ptr<PooledBuffer> GroupRun::NewBuffer(const Profile& p, const Window& w, int tag, size_t guard) {
  auto* b = new PooledBuffer(&g_.pool, p.type, p.bands, w, tag, guard);
  figures_[tag].bytes.fetch_add(static_cast<int64_t>(b->bytes()), std::memory_order_relaxed);
  return std::shared_ptr<PooledBuffer>(b, [this](PooledBuffer* pb) { Free(pb); });
}

void GroupRun::Free(PooledBuffer* b) {
  const int64_t bytes = static_cast<int64_t>(b->allocated_bytes()) + kTileOverheadBytes;
  delete b;
  reserved_.fetch_sub(bytes, std::memory_order_seq_cst);
  // Nothing left to admit, or the read-ahead bound holds admission back: the
  // wave that ends next admits (WaveTaskDone), so this free need not take
  // the admission lock (most frees, with small tiles). seq_cst here, in
  // WaveTaskDone and on TryAdmit's loads: either this load sees that wave's
  // end, or that wave's TryAdmit sees these bytes freed.
  if (all_admitted_.load(std::memory_order_acquire) ||
      waves_in_flight_.load(std::memory_order_seq_cst) >= max_waves_) {
    return;
  }
  TryAdmit(false);
}

void GroupRun::Fail(absl::Status s) {
  {
    std::lock_guard<std::mutex> l(error_mu_);
    if (error_.ok()) error_ = std::move(s);
  }
  cancelled_.store(true, std::memory_order_release);
}

void GroupRun::Send(int slot, int64_t t, int64_t wave, TileBuffer buffer) {
  const int fanout = static_cast<int>(plan_.slots[slot].edges.size());
  if (fanout == 0) return;  // nobody reads it: dropped (freed) here
  auto* share = new TileShare{{fanout}, std::move(buffer)};
  Sending(fanout);
  TsanBeforePut();
  images_[slot]->try_put(TileMsg{t, wave, share});
}

void GroupRun::Ordered(int exec, int64_t tile, int64_t wave, std::function<void()> task) {
  if (!sequential_) {
    task();
    return;
  }
  {
    const std::pair<int64_t, int> key{wave, costs_.Order(exec, tile, wave)};
    std::lock_guard<std::mutex> l(order_mu_);
    if (key != std::pair<int64_t, int>{next_wave_, next_order_}) {
      parked_.emplace(key, std::move(task));
      return;
    }
  }
  // This thread runs every task whose turn comes next and that is ready.
  while (true) {
    task();
    std::lock_guard<std::mutex> l(order_mu_);
    if (++next_order_ == costs_.Tasks(next_wave_)) {
      ++next_wave_;
      next_order_ = 0;
    }
    auto it = parked_.find(std::pair<int64_t, int>{next_wave_, next_order_});
    if (it == parked_.end()) return;
    task = std::move(it->second);
    parked_.erase(it);
  }
}

void GroupRun::DropParked() {
  absl::flat_hash_map<std::pair<int64_t, int>, std::function<void()>> parked;
  {
    std::lock_guard<std::mutex> l(order_mu_);
    parked.swap(parked_);
  }
}

void GroupRun::WaveTaskDone(int64_t wave) {
  if (wave_left_[wave % kWaveSlots].fetch_sub(1, std::memory_order_acq_rel) == 1) {
    waves_in_flight_.fetch_sub(1, std::memory_order_seq_cst);
    TryAdmit(false);
  }
}

void GroupRun::Received() {
  TsanBeforePut();  // the body's last access to the run happens before wait_for_all returns
  if (in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1) TryAdmit(true);
}

int GroupRun::ExpectedPieces(int exec, int64_t t) const {
  const ExecDesc& e = plan_.exec[exec];
  TileList nb;
  int n = 0;
  for (int slot : e.inputs) {
    plan_.InputTiles(slot, e.reach(), t, &nb);
    n += static_cast<int>(nb.size());
  }
  return n;
}

void GroupRun::InputViews(int exec, const ReadyTile& r, absl::InlinedVector<ConstView, 8>* views,
                          absl::InlinedVector<std::shared_ptr<PooledBuffer>, 8>* gathers) {
  const ExecDesc& e = plan_.exec[exec];
  const Window want = plan_.grid->TileWithMargin(r.tile, e.reach()).Expanded();
  for (size_t i = 0; i < e.inputs.size(); ++i) {
    const int slot = e.inputs[i];
    const Piece* single = nullptr;
    int count = 0;
    for (const Piece& p : r.pieces) {
      if (p.input == static_cast<int>(i)) {
        ++count;
        if (p.buffer->window().Contains(want)) single = &p;
      }
    }
    if (single != nullptr) {
      views->push_back(single->buffer->view().Sub(want));
      continue;
    }
    std::shared_ptr<PooledBuffer> g = NewBuffer(plan_.slots[slot].profile, want, exec);
    View dst = g->view();
    for (const Piece& p : r.pieces) {
      if (p.input != static_cast<int>(i)) continue;
      const Window& tw = p.buffer->window();
      const int x0 = std::max(tw.x, want.x), y0 = std::max(tw.y, want.y);
      const int x1 = std::min(tw.x + tw.width, want.x + want.width);
      const int y1 = std::min(tw.y + tw.height, want.y + want.height);
      if (x0 >= x1 || y0 >= y1) continue;
      const Window part{x0, y0, x1 - x0, y1 - y0};
      CopyPixels(p.buffer->view().Sub(part), dst.Sub(part));
    }
    views->push_back(g->view());
    gathers->push_back(std::move(g));
  }
}

void GroupRun::TryAdmit(bool force) {
  absl::InlinedVector<int64_t, 8> admitted;
  const int64_t n = plan_.grid->num_tiles();
  {
    std::lock_guard<AdaptiveMutex> l(admit_mu_);
    while (!stopped_ && next_tile_ < n && !cancelled()) {
      const int64_t c = costs_.Cost(next_tile_);
      const int64_t r = reserved_.load(std::memory_order_seq_cst);
      std::atomic<int>& left = wave_left_[next_tile_ % kWaveSlots];
      if (force && in_flight_.load(std::memory_order_acquire) == 0) {
        // Nothing runs, so every wave admitted so far has finished: the
        // next tile always fits then (cost_model.h). A wave still counted
        // here means the replay and the run disagree: an engine bug, and
        // waiting on it would hang.
        if (waves_in_flight_.load(std::memory_order_acquire) != 0) {
          Fail(absl::InternalError(absl::StrCat("engine bug: ", waves_in_flight_.load(),
                                                " tile cascades unfinished while no task runs")));
          break;
        }
      } else {
        const int waves = waves_in_flight_.load(std::memory_order_seq_cst);
        // Sequential mode: one wave at a time (its tasks in the replay's
        // order). Otherwise: within the budget, the read-ahead bound, and a
        // free counter slot.
        const bool wait = sequential_ ? waves != 0
                                      : r + c > store_budget_ || waves >= max_waves_ ||
                                            left.load(std::memory_order_acquire) != 0;
        if (wait) break;
      }
      force = false;
      left.store(costs_.Tasks(next_tile_), std::memory_order_release);
      waves_in_flight_.fetch_add(1, std::memory_order_acq_rel);
      reserved_.fetch_add(c, std::memory_order_acq_rel);
      Sending(static_cast<int>(sources_.size()));
      admitted.push_back(next_tile_++);
    }
    if (next_tile_ >= n) all_admitted_.store(true, std::memory_order_release);
  }
  for (int64_t t : admitted) {
    for (int s : sources_) AdmitToSource(*nodes_[s], t);
  }
}

int GroupRun::ThreadIndex() {
  int& id = thread_ids_.local();
  if (id < 0) id = next_thread_id_.fetch_add(1, std::memory_order_relaxed);
  return id;
}

void GroupRun::TaskDone(int exec, int64_t tile, int64_t wave, Clock::time_point start, int64_t bytes, bool ok) {
  Figures& f = figures_[exec];
  f.tiles.fetch_add(1, std::memory_order_relaxed);
  const auto end = Clock::now();
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
  f.busy_ns.fetch_add(ns, std::memory_order_relaxed);
  if (trace_) {
    events_.local().push_back(TaskEvent{
        exec, static_cast<int>(std::min<int64_t>(tile, INT32_MAX)), ThreadIndex(),
        std::chrono::duration_cast<std::chrono::nanoseconds>(start - origin_).count(), ns, bytes});
  }
  if (g_.options.progress && ok) {
    std::lock_guard<std::mutex> l(progress_->mu);
    ++progress_->done;
    const ExecDesc& e = plan_.exec[exec];
    bool go = false;
    try {
      go = g_.options.progress(Progress{e.node ? e.node->name : e.name, progress_->done, progress_->total});
    } catch (const std::exception& ex) {
      Fail(absl::InternalError(absl::StrCat("the progress callback threw an exception: ", ex.what())));
      go = true;
    } catch (...) {
      Fail(absl::InternalError("the progress callback threw an exception"));
      go = true;
    }
    if (!go) {
      Fail(absl::CancelledError(absl::StrCat("run cancelled by the progress callback after ", progress_->done,
                                             " of ", progress_->total, " tile tasks")));
    }
  }
  WaveTaskDone(wave);
}

absl::Status GroupRun::Execute(int workers, RunStats* stats) {
  max_waves_ = std::clamp(2 * workers + 2, 2, kWaveSlots);
  ThreadLimit limit(workers);
  tbb::task_arena arena(workers);
  arena.execute([&] {
    fg_ = std::make_unique<tbb::flow::graph>();
    for (size_t s = 0; s < plan_.slots.size(); ++s) {
      images_.push_back(std::make_unique<tbb::flow::broadcast_node<TileMsg>>(*fg_));
    }
    for (size_t ei = 0; ei < plan_.exec.size(); ++ei) {
      const int exec = static_cast<int>(ei);
      switch (plan_.exec[ei].kind) {
        case ExecKind::kSource:
          nodes_.push_back(MakeSourceNode(*this, exec));
          sources_.push_back(exec);
          break;
        case ExecKind::kMap: nodes_.push_back(MakeMapNode(*this, exec)); break;
        case ExecKind::kReduce: nodes_.push_back(MakeReduceNode(*this, exec)); break;
        case ExecKind::kFileSink:
        case ExecKind::kMemorySink: nodes_.push_back(MakeSinkNode(*this, exec, files_[ei])); break;
      }
    }
    // One edge per image and consumer: the edges carry the tiles.
    for (size_t s = 0; s < plan_.slots.size(); ++s) {
      for (const EdgeDesc& ed : plan_.slots[s].edges) {
        tbb::flow::make_edge(*images_[s], nodes_[ed.consumer]->Input(ed.input));
      }
    }
    TsanBeforePut();
    TryAdmit(false);
    if (in_flight_.load() == 0) TryAdmit(true);
    fg_->wait_for_all();
    if constexpr (kTsan) {
      // wait_for_all waits inside libtbb for the graph's wait context; a
      // no-op reserve/release makes TSan see that acquire before the nodes
      // are destroyed (see tsan_annotations.h).
      fg_->reserve_wait();
      fg_->release_wait();
    }
    TsanBodyStart();
    {
      std::lock_guard<AdaptiveMutex> l(admit_mu_);
      stopped_ = true;
    }
    for (auto& n : nodes_) n->Finish();
    DropParked();  // a cancelled run's tasks that never had their turn
    // Tear down: drops whatever a cancelled run left waiting.
    nodes_.clear();
    images_.clear();
    fg_.reset();
  });
  FillStats(stats);
  std::lock_guard<std::mutex> l(error_mu_);
  return error_;
}

void GroupRun::FillStats(RunStats* stats) const {
  const std::vector<BufferPool::TagFigures> tags = g_.pool.tag_figures();
  for (size_t ei = 0; ei < plan_.exec.size(); ++ei) {
    const ExecDesc& e = plan_.exec[ei];
    NodeStats ns;
    ns.name = e.name;
    ns.node_id = e.node != nullptr ? e.node->id : -1;
    static constexpr const char* kKinds[] = {"source", "map", "reduce", "write", "memory"};
    ns.kind = kKinds[static_cast<int>(e.kind)];
    ns.tiles = figures_[ei].tiles.load();
    ns.bytes_produced = figures_[ei].bytes.load();
    if (ei < tags.size()) ns.live_at_peak = tags[ei].live_at_peak;
    ns.busy_seconds = static_cast<double>(figures_[ei].busy_ns.load()) * 1e-9;
    ns.grown_by = e.grow;
    stats->tasks += ns.tiles;
    stats->nodes.push_back(std::move(ns));
  }
  stats->scratch_peak_bytes += scratch_peak_.load(std::memory_order_relaxed);
  if (trace_) {
    for (const auto& local : events_) {
      for (TaskEvent ev : local) {
        ev.node += node_offset_;
        stats->tasks_trace.push_back(ev);
      }
    }
  }
}

}  // namespace eoscale::internal
