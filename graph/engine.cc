// The streaming engine: runs a set of sink requests over the logical graph as
// one oneTBB flow graph per image size, with one flow-graph node per logical
// node. Tile buffers live in a refcounting store; admission of new tiles is
// bounded by a live-byte budget that provably never deadlocks (see
// MinimumWorkingSet).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>
#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eoscale/graph/graph_state.h"
#include "eoscale/graph/tsan_annotations.h"
#include "eoscale/io/gdal_raster.h"
#include "oneapi/tbb/enumerable_thread_specific.h"
#include "oneapi/tbb/flow_graph.h"
#include "oneapi/tbb/global_control.h"
#include "oneapi/tbb/task_arena.h"

namespace eoscale::internal {
namespace {

using Clock = std::chrono::steady_clock;
using Neighbours = absl::InlinedVector<int, 9>;

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kDefaultBudget = 64 * kMiB;
constexpr int64_t kMaxGdalCache = 16 * kMiB;

// TSan (tsan_annotations.h): building a run's flow graph happens before any
// of its bodies runs. A body cannot reach a per-run object before it has read
// its captures (heap memory the building thread wrote), so this sync object
// is a static one, shared by every run in the process.
char tsan_graph_built = 0;

// One image flowing through the run: the output `output` of exec node
// `producer`, stored per tile.
struct Edge {
  int consumer;  // exec node
  int input;     // input index of the consumer
  int margin;    // margin the consumer reads this image with
};

struct Entry {
  std::unique_ptr<PooledBuffer> buffer;
  std::atomic<int> readers{0};
};

struct Slot {
  int producer = -1;
  Profile profile;
  bool from_source = false;
  int read_margin = 0;  // sources: window read = tile grown by this margin
  std::vector<Edge> edges;
  std::unique_ptr<Entry[]> entries;
};

enum class ExecKind { kSource, kMap, kReduce, kFileSink, kMemorySink };

struct ExecNode {
  ExecKind kind;
  int index = 0;  // position in the run; the buffer pool tag
  const Node* node = nullptr;  // logical node (sources, maps, reduces)
  std::string name;
  int margin = 0;              // maps: the filter's margin
  std::vector<int> inputs;     // slot per input
  std::vector<int> outputs;    // slot per output
  std::vector<Profile> input_profiles;
  std::vector<Profile> output_profiles;
  // Sinks.
  RasterSink* file = nullptr;
  Array* array = nullptr;
  // Reduce: partial results folded in tile order.
  std::mutex fold_mu;  // guards partials, folded, accumulator while running
  std::vector<std::optional<std::any>> partials;
  int folded = 0;
  std::any accumulator;
  // Scheduling.
  std::unique_ptr<std::atomic<int>[]> pending;
  // TSan builds only (tsan_annotations.h): one sync object per tile task,
  // released by whoever launches the task, acquired by its body; and one for
  // the serial (concurrency 1) file sinks, whose bodies oneTBB orders.
  std::unique_ptr<char[]> handoff;
  char serial_sync = 0;
  std::unique_ptr<tbb::flow::function_node<int>> flow;
  // Figures.
  std::atomic<int64_t> tiles{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> busy_ns{0};
};

std::string NodeLabel(const ExecNode& e) {
  return e.node != nullptr ? absl::StrCat("'", e.node->name, "' (node ", e.node->id, ")")
                           : absl::StrCat("'", e.name, "'");
}

// Progress over the whole run (all image sizes).
struct RunProgress {
  std::mutex mu;
  int64_t done = 0;  // guarded by mu
  int64_t total = 0;
};

class GroupRun {
 public:
  GroupRun(GraphState& g, const TileGrid& grid) : g_(g), grid_(grid), n_(grid.num_tiles()) {}

  // Builds exec nodes and slots for the needed logical nodes (ids sorted,
  // hence topological) and the group's sinks.
  void Build(const std::vector<int>& node_ids, const std::vector<SinkRequest*>& sinks,
             const std::map<SinkRequest*, RasterSink*>& files) {
    std::map<int, int> exec_of;  // logical node -> exec node
    for (int id : node_ids) {
      const Node& n = g_.nodes[id];
      auto e = std::make_unique<ExecNode>();
      e->index = static_cast<int>(exec_.size());
      e->node = &n;
      e->name = n.name;
      e->kind = n.is_source() ? ExecKind::kSource : n.kind == NodeKind::kMap ? ExecKind::kMap : ExecKind::kReduce;
      e->margin = n.kind == NodeKind::kMap ? n.margin : 0;
      e->output_profiles = n.outputs;
      const int idx = static_cast<int>(exec_.size());
      exec_of[id] = idx;
      for (size_t o = 0; o < n.outputs.size(); ++o) {
        auto s = std::make_unique<Slot>();
        s->producer = idx;
        s->profile = n.outputs[o];
        s->from_source = n.is_source();
        e->outputs.push_back(static_cast<int>(slots_.size()));
        slot_of_[{id, static_cast<int>(o)}] = static_cast<int>(slots_.size());
        slots_.push_back(std::move(s));
      }
      for (const Port& p : n.inputs) AddInput(*e, idx, slot_of_.at({p.node, p.output}));
      if (e->kind == ExecKind::kReduce) e->partials.resize(n_);
      exec_.push_back(std::move(e));
    }
    for (SinkRequest* r : sinks) {
      if (r->kind == SinkRequest::Kind::kReduce) continue;  // the reduce node is the sink
      auto e = std::make_unique<ExecNode>();
      const int idx = static_cast<int>(exec_.size());
      e->index = idx;
      if (r->kind == SinkRequest::Kind::kFile) {
        e->kind = ExecKind::kFileSink;
        e->file = files.at(r);
        e->name = absl::StrCat("write ", r->path);
      } else {
        e->kind = ExecKind::kMemorySink;
        e->array = r->array;
        e->name = "read into memory";
      }
      AddInput(*e, idx, slot_of_.at({r->port.node, r->port.output}));
      exec_.push_back(std::move(e));
    }
    for (auto& s : slots_) {
      for (const Edge& ed : s->edges) s->read_margin = std::max(s->read_margin, ed.margin);
      if (!s->from_source) s->read_margin = 0;
      s->entries.reset(new Entry[n_]);
    }
    for (auto& e : exec_) {
      if (e->kind == ExecKind::kSource) ++num_sources_;
    }
    ComputeCosts();
  }

  int64_t min_working_set() const { return min_working_set_; }
  // REQUIRES: budget >= min_working_set(), else admission may have to force tiles in.
  void set_store_budget(int64_t budget) { store_budget_ = budget; }

  absl::Status Execute(int workers, RunStats* stats);

  void FillStats(RunStats* stats) const {
    const std::vector<BufferPool::TagFigures> tags = g_.pool.tag_figures();
    for (const auto& e : exec_) {
      NodeStats ns;
      ns.name = e->node != nullptr ? absl::StrCat(e->node->name, "#", e->node->id) : e->name;
      ns.node_id = e->node != nullptr ? e->node->id : -1;
      static constexpr const char* kKinds[] = {"source", "map", "reduce", "write", "memory"};
      ns.kind = kKinds[static_cast<int>(e->kind)];
      ns.tiles = e->tiles.load();
      ns.bytes_produced = e->bytes.load();
      if (e->index < static_cast<int>(tags.size())) ns.live_at_peak = tags[e->index].live_at_peak;
      ns.busy_seconds = static_cast<double>(e->busy_ns.load()) * 1e-9;
      stats->tasks += ns.tiles;
      stats->nodes.push_back(std::move(ns));
    }
    if (trace_) {
      for (auto& local : events_) {
        for (TaskEvent ev : local) {
          ev.node += node_offset_;
          stats->tasks_trace.push_back(ev);
        }
      }
    }
  }
  int num_exec() const { return static_cast<int>(exec_.size()); }
  int64_t num_tasks() const { return tasks_total_; }
  // REQUIRES: `p` outlives the run.
  void set_progress(RunProgress* p) { progress_ = p; }
  // Enables tracing; times are taken from `origin`; node indices shifted by
  // `node_offset` (the nodes of earlier groups in RunStats::nodes).
  void EnableTrace(Clock::time_point origin, int node_offset) {
    trace_ = true;
    origin_ = origin;
    node_offset_ = node_offset;
  }

 private:
  static int ExecIndex(const ExecNode& e) { return e.index; }
  int ThreadIndex() {
    int& id = thread_ids_.local();
    if (id < 0) id = next_thread_id_.fetch_add(1, std::memory_order_relaxed);
    return id;
  }

  void AddInput(ExecNode& e, int idx, int slot) {
    e.inputs.push_back(slot);
    e.input_profiles.push_back(slots_[slot]->profile);
    slots_[slot]->edges.push_back({idx, static_cast<int>(e.inputs.size()) - 1, e.margin});
  }

  // Tiles of producer `slot` that consumer tile t reads through `margin`
  // (for a source: only tile t, read margin-expanded from the file).
  void InputTiles(const Slot& s, int margin, int t, Neighbours* out) const {
    out->clear();
    if (s.from_source) {
      out->push_back(t);
      return;
    }
    thread_local std::vector<int> v;  // no allocation per call
    v.clear();
    grid_.TilesIntersecting(grid_.TileWithMargin(t, margin).Expanded(), &v);
    out->assign(v.begin(), v.end());
  }
  // Consumer tiles that read producer tile s through an edge. The relation is
  // symmetric: tile t's grown window meets s iff s's grown window meets t.
  void ReaderTiles(const Slot& s, const Edge& e, int tile, Neighbours* out) const {
    InputTiles(s, e.margin, tile, out);
  }

  int64_t SlotTileBytes(const Slot& s, int t) const {
    const Window w = grid_.TileWithMargin(t, s.read_margin).Expanded();
    return w.Pixels() * s.profile.bands * static_cast<int64_t>(PixelSize(s.profile.type));
  }
  // A Map reading a Map output with a margin gathers the neighbour tiles
  // into one buffer, unless a single tile already covers the grown window.
  bool NeedsGather(const Slot& s, int margin, int t) const {
    if (s.from_source || margin == 0) return false;
    const Window w = grid_.TileWithMargin(t, margin).Expanded();
    return !grid_.TileWindow(t).Contains(w);
  }
  int64_t GatherBytes(const Slot& s, int margin, int t) const {
    if (!NeedsGather(s, margin, t)) return 0;
    const Window w = grid_.TileWithMargin(t, margin).Expanded();
    return w.Pixels() * s.profile.bands * static_cast<int64_t>(PixelSize(s.profile.type));
  }

  // Bytes allocated for tile index t over the whole graph (reserved when t
  // is admitted), the readers of every entry, the inputs every task waits
  // for, and the minimum working set.
  void ComputeCosts();

  void TryAdmit(bool force);
  void Launch(int exec, int t) {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    if constexpr (kTsan) TsanRelease(&exec_[exec]->handoff[t]);
    exec_[exec]->flow->try_put(t);
  }
  void RunTask(int exec, int t);
  // A flow-graph node's body: runs tile task t of exec node `exec`.
  struct TaskBody {
    GroupRun* run;
    int exec;
    tbb::flow::continue_msg operator()(int t) const {
      // TSan: building the graph happens before its bodies run. The acquire
      // must precede this body's reads of its own fields, which the compiler
      // would otherwise hoist above it (TsanOpaque).
      TsanAcquire(&tsan_graph_built);
      const TaskBody* self = TsanOpaque(this);
      self->run->RunTask(self->exec, t);
      return {};
    }
  };
  absl::Status RunSource(ExecNode& e, int t);
  absl::Status RunMap(ExecNode& e, int t, std::vector<std::unique_ptr<PooledBuffer>>* outputs);
  absl::Status RunReduce(ExecNode& e, int t);
  absl::Status RunSink(ExecNode& e, int t);
  ConstView InputView(const ExecNode& e, int input, int t, std::unique_ptr<PooledBuffer>* gather);
  void ReleaseInputs(const ExecNode& e, int t);
  void Publish(const ExecNode& e, int t, std::vector<std::unique_ptr<PooledBuffer>>* outputs);
  void FreeBuffer(std::unique_ptr<PooledBuffer> b) {
    const int64_t bytes = static_cast<int64_t>(b->bytes());
    b.reset();
    reserved_.fetch_sub(bytes, std::memory_order_acq_rel);
    TryAdmit(false);
  }
  void Fail(absl::Status s) {
    {
      std::lock_guard<std::mutex> l(error_mu_);
      if (error_.ok()) error_ = std::move(s);
    }
    cancelled_.store(true, std::memory_order_release);
  }

  GraphState& g_;
  const TileGrid& grid_;
  const int n_;
  int64_t store_budget_ = 0;
  std::vector<std::unique_ptr<ExecNode>> exec_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::map<std::pair<int, int>, int> slot_of_;
  int num_sources_ = 0;
  std::vector<int64_t> cost_;
  int64_t min_working_set_ = 0;

  std::mutex admit_mu_;  // std::mutex: taken on every free (see BufferPool)
  int next_tile_ = 0;    // guarded by admit_mu_
  std::atomic<int64_t> reserved_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> cancelled_{false};
  // std::mutex rather than absl::Mutex throughout the engine: Debian's
  // Abseil is not built with TSan, which would not see its locks.
  std::mutex error_mu_;
  absl::Status error_;  // guarded by error_mu_
  char done_sync_ = 0;  // TSan: every task body happens before wait_for_all returns
  int64_t tasks_total_ = 0;  // tile tasks of this group
  RunProgress* progress_ = nullptr;
  // Tracing (off unless EnableTrace).
  bool trace_ = false;
  Clock::time_point origin_;
  int node_offset_ = 0;
  tbb::enumerable_thread_specific<int> thread_ids_{-1};
  std::atomic<int> next_thread_id_{0};
  tbb::enumerable_thread_specific<std::vector<TaskEvent>> events_;
};

void GroupRun::ComputeCosts() {
  Neighbours nb;
  // Readers per entry and inputs awaited per task.
  for (auto& e : exec_) {
    e->pending.reset(new std::atomic<int>[n_]);
    if constexpr (kTsan) e->handoff.reset(new char[n_]());
  }
  std::vector<std::vector<int>> pending(exec_.size(), std::vector<int>(n_, 0));
  std::vector<std::vector<int>> readers(slots_.size(), std::vector<int>(n_, 0));
  for (size_t si = 0; si < slots_.size(); ++si) {
    const Slot& s = *slots_[si];
    for (const Edge& ed : s.edges) {
      for (int t = 0; t < n_; ++t) {
        InputTiles(s, ed.margin, t, &nb);
        pending[ed.consumer][t] += static_cast<int>(nb.size());
        for (int u : nb) readers[si][u] += 1;
      }
    }
  }
  for (size_t ei = 0; ei < exec_.size(); ++ei) {
    for (int t = 0; t < n_; ++t) exec_[ei]->pending[t].store(pending[ei][t], std::memory_order_relaxed);
    tasks_total_ += n_;
  }
  for (size_t si = 0; si < slots_.size(); ++si) {
    for (int t = 0; t < n_; ++t) slots_[si]->entries[t].readers.store(readers[si][t], std::memory_order_relaxed);
  }
  // Replay the dependency structure sequentially, admitting tiles in order.
  // Admitting tile t makes a deterministic set of tasks runnable (its
  // "cascade": the sources of t, then every task whose last input that made
  // possible); cost(t) is what those tasks allocate. A task can only run
  // once the admission that completes its cascade happened, so reserving
  // cost(t) at admission covers every allocation before it is made.
  // When the engine cannot admit tile t and nothing is in flight, every
  // cascade of tiles < t has run, so the bytes still reserved are exactly
  // those of this replay at the same point. A budget of
  // max_t(reserved before t + cost(t)) therefore always lets the next tile
  // in: no deadlock.
  cost_.assign(n_, 0);
  std::vector<std::vector<int>> left_readers = readers;
  int64_t reserved = 0;
  std::vector<std::pair<int, int>> work;
  for (int t = 0; t < n_; ++t) {
    int64_t cost = 0, freed = 0;
    for (size_t ei = 0; ei < exec_.size(); ++ei) {
      if (exec_[ei]->kind == ExecKind::kSource) work.push_back({static_cast<int>(ei), t});
    }
    while (!work.empty()) {
      auto [ei, u] = work.back();
      work.pop_back();
      const ExecNode& e = *exec_[ei];
      for (int slot : e.outputs) cost += SlotTileBytes(*slots_[slot], u);
      for (int slot : e.inputs) {
        const Slot& s = *slots_[slot];
        const int64_t gather = GatherBytes(s, e.margin, u);
        cost += gather;
        freed += gather;
        InputTiles(s, e.margin, u, &nb);
        for (int v : nb) {
          if (--left_readers[slot][v] == 0) freed += SlotTileBytes(s, v);
        }
      }
      for (int slot : e.outputs) {
        const Slot& s = *slots_[slot];
        if (left_readers[slot][u] == 0) freed += SlotTileBytes(s, u);
        for (const Edge& ed : s.edges) {
          InputTiles(s, ed.margin, u, &nb);  // symmetric: the readers of u
          for (int v : nb) {
            if (--pending[ed.consumer][v] == 0) work.push_back({ed.consumer, v});
          }
        }
      }
    }
    cost_[t] = cost;
    min_working_set_ = std::max(min_working_set_, reserved + cost);
    reserved += cost - freed;
  }
}

void GroupRun::TryAdmit(bool force) {
  absl::InlinedVector<int, 8> admitted;
  {
    std::lock_guard<std::mutex> l(admit_mu_);
    while (next_tile_ < n_ && !cancelled_.load(std::memory_order_acquire)) {
      const int64_t c = cost_[next_tile_];
      const int64_t r = reserved_.load(std::memory_order_acquire);
      if (r + c > store_budget_ && !(force && in_flight_.load(std::memory_order_acquire) == 0)) break;
      force = false;
      reserved_.fetch_add(c, std::memory_order_acq_rel);
      in_flight_.fetch_add(num_sources_, std::memory_order_acq_rel);
      admitted.push_back(next_tile_++);
    }
  }
  for (int t : admitted) {
    for (size_t ei = 0; ei < exec_.size(); ++ei) {
      if (exec_[ei]->kind == ExecKind::kSource) exec_[ei]->flow->try_put(t);
    }
  }
}

ConstView GroupRun::InputView(const ExecNode& e, int input, int t, std::unique_ptr<PooledBuffer>* gather) {
  const Slot& s = *slots_[e.inputs[input]];
  const Window want = grid_.TileWithMargin(t, e.margin).Expanded();
  if (s.from_source || !NeedsGather(s, e.margin, t)) {
    return s.entries[t].buffer->view().Sub(want);
  }
  *gather = std::make_unique<PooledBuffer>(&g_.pool, s.profile.type, s.profile.bands, want, ExecIndex(e));
  View dst = (*gather)->view();
  Neighbours nb;
  InputTiles(s, e.margin, t, &nb);
  for (int u : nb) {
    const Window tw = grid_.TileWindow(u);
    const int x0 = std::max(tw.x, want.x), y0 = std::max(tw.y, want.y);
    const int x1 = std::min(tw.x + tw.width, want.x + want.width);
    const int y1 = std::min(tw.y + tw.height, want.y + want.height);
    const Window part{x0, y0, x1 - x0, y1 - y0};
    CopyPixels(s.entries[u].buffer->view().Sub(part), dst.Sub(part));
  }
  return (*gather)->view();
}

void GroupRun::ReleaseInputs(const ExecNode& e, int t) {
  Neighbours nb;
  for (int slot : e.inputs) {
    Slot& s = *slots_[slot];
    InputTiles(s, e.margin, t, &nb);
    for (int u : nb) {
      Entry& en = s.entries[u];
      if (en.readers.fetch_sub(1, std::memory_order_acq_rel) == 1) FreeBuffer(std::move(en.buffer));
    }
  }
}

void GroupRun::Publish(const ExecNode& e, int t, std::vector<std::unique_ptr<PooledBuffer>>* outputs) {
  Neighbours nb;
  for (size_t o = 0; o < e.outputs.size(); ++o) {
    Slot& s = *slots_[e.outputs[o]];
    Entry& en = s.entries[t];
    if (en.readers.load(std::memory_order_acquire) == 0) {
      FreeBuffer(std::move((*outputs)[o]));  // nobody reads this output
      continue;
    }
    en.buffer = std::move((*outputs)[o]);
  }
  for (int slot : e.outputs) {
    const Slot& s = *slots_[slot];
    for (const Edge& ed : s.edges) {
      ReaderTiles(s, ed, t, &nb);
      for (int v : nb) {
        if (exec_[ed.consumer]->pending[v].fetch_sub(1, std::memory_order_acq_rel) == 1) Launch(ed.consumer, v);
      }
    }
  }
}

absl::Status GroupRun::RunSource(ExecNode& e, int t) {
  const Slot& s = *slots_[e.outputs[0]];
  const Window w = grid_.TileWithMargin(t, s.read_margin).Expanded();
  auto buf = std::make_unique<PooledBuffer>(&g_.pool, s.profile.type, s.profile.bands, w, ExecIndex(e));
  e.bytes.fetch_add(static_cast<int64_t>(buf->bytes()), std::memory_order_relaxed);
  const Node& n = *e.node;
  absl::Status st;
  if (n.kind == NodeKind::kFileSource) {
    st = n.file->Read(buf->view());
  } else if (n.kind == NodeKind::kMemorySource) {
    const ConstView whole = ConstView::Contiguous(n.memory, s.profile.type, s.profile.bands,
                                                  {0, 0, s.profile.width, s.profile.height});
    CopyPixels(whole.Sub(w), buf->view());
  } else {
    View v = buf->view();
    DispatchPixelType(s.profile.type, [&]<typename T>() { v.As<T>().Fill(static_cast<T>(n.constant)); });
  }
  std::vector<std::unique_ptr<PooledBuffer>> outs;
  outs.push_back(std::move(buf));
  if (!st.ok()) {
    FreeBuffer(std::move(outs[0]));
    return st;
  }
  Publish(e, t, &outs);
  return absl::OkStatus();
}

absl::Status GroupRun::RunMap(ExecNode& e, int t, std::vector<std::unique_ptr<PooledBuffer>>* outputs) {
  const Tile tile = grid_.TileWithMargin(t, e.margin);
  absl::InlinedVector<ConstView, 8> ins;
  absl::InlinedVector<std::unique_ptr<PooledBuffer>, 8> gathers(e.inputs.size());
  for (size_t i = 0; i < e.inputs.size(); ++i) ins.push_back(InputView(e, static_cast<int>(i), t, &gathers[i]));
  absl::InlinedVector<View, 8> outs;
  for (const Profile& p : e.output_profiles) {
    outputs->push_back(std::make_unique<PooledBuffer>(&g_.pool, p.type, p.bands, tile.window, ExecIndex(e)));
    e.bytes.fetch_add(static_cast<int64_t>(outputs->back()->bytes()), std::memory_order_relaxed);
    outs.push_back(outputs->back()->view());
  }
  MapTile mt{tile, absl::MakeConstSpan(ins), e.input_profiles, absl::MakeConstSpan(outs), e.output_profiles};
  absl::Status st;
  try {
    st = e.node->fn(mt);
  } catch (const std::exception& ex) {
    st = absl::InternalError(absl::StrCat("threw an exception: ", ex.what()));
  } catch (...) {
    st = absl::InternalError("threw an unknown exception");
  }
  for (auto& gb : gathers) {
    if (gb) FreeBuffer(std::move(gb));
  }
  return st;
}

absl::Status GroupRun::RunReduce(ExecNode& e, int t) {
  const Tile tile = grid_.TileWithMargin(t, 0);
  absl::InlinedVector<ConstView, 8> ins;
  std::unique_ptr<PooledBuffer> none;
  for (size_t i = 0; i < e.inputs.size(); ++i) ins.push_back(InputView(e, static_cast<int>(i), t, &none));
  ReduceTile rt{tile, absl::MakeConstSpan(ins), e.input_profiles};
  absl::StatusOr<std::any> part;
  try {
    part = e.node->reduce_map(rt);
    if (!part.ok()) return part.status();
    std::lock_guard<std::mutex> l(e.fold_mu);
    e.partials[t] = *std::move(part);
    while (e.folded < n_ && e.partials[e.folded].has_value()) {
      std::any v = std::move(*e.partials[e.folded]);
      e.partials[e.folded].reset();
      e.accumulator = e.folded == 0 ? std::move(v) : e.node->reduce_combine(std::move(e.accumulator), std::move(v));
      ++e.folded;
    }
  } catch (const std::exception& ex) {
    return absl::InternalError(absl::StrCat("threw an exception: ", ex.what()));
  } catch (...) {
    return absl::InternalError("threw an unknown exception");
  }
  return absl::OkStatus();
}

absl::Status GroupRun::RunSink(ExecNode& e, int t) {
  const Slot& s = *slots_[e.inputs[0]];
  const Window w = grid_.TileWindow(t);
  const ConstView v = s.entries[t].buffer->view().Sub(w);
  if (e.kind == ExecKind::kFileSink) return e.file->Write(v);
  CopyPixels(v, e.array->mutable_view().Sub(w));
  return absl::OkStatus();
}

void GroupRun::RunTask(int exec, int t) {
  ExecNode& e = *exec_[exec];
  if constexpr (kTsan) {
    TsanAcquire(&e.handoff[t]);
    if (e.kind == ExecKind::kFileSink) TsanAcquire(&e.serial_sync);
  }
  if (!cancelled_.load(std::memory_order_acquire)) {
    const auto start = Clock::now();
    absl::Status st;
    std::vector<std::unique_ptr<PooledBuffer>> outputs;
    switch (e.kind) {
      case ExecKind::kSource: st = RunSource(e, t); break;
      case ExecKind::kMap: st = RunMap(e, t, &outputs); break;
      case ExecKind::kReduce: st = RunReduce(e, t); break;
      case ExecKind::kFileSink:
      case ExecKind::kMemorySink: st = RunSink(e, t); break;
    }
    if (e.kind != ExecKind::kSource) ReleaseInputs(e, t);
    if (!st.ok()) {
      for (auto& b : outputs) {
        if (b) FreeBuffer(std::move(b));
      }
      const Window w = grid_.TileWindow(t);
      const char* role = e.kind == ExecKind::kMap ? "filter" : e.kind == ExecKind::kReduce ? "reduce" : "node";
      Fail(absl::Status(st.code(), absl::StrCat(role, " ", NodeLabel(e), " failed on tile ", t, " (",
                                                DescribeWindow(w), "): ", st.message())));
    } else if (e.kind == ExecKind::kMap) {
      Publish(e, t, &outputs);
    }
    e.tiles.fetch_add(1, std::memory_order_relaxed);
    const auto end = Clock::now();
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
    e.busy_ns.fetch_add(ns, std::memory_order_relaxed);
    if (trace_) {
      int64_t bytes = 0;
      if (e.kind == ExecKind::kSource) bytes = SlotTileBytes(*slots_[e.outputs[0]], t);
      for (const Profile& p : e.output_profiles) {
        if (e.kind == ExecKind::kMap) {
          bytes += grid_.TileWindow(t).Pixels() * p.bands * static_cast<int64_t>(PixelSize(p.type));
        }
      }
      events_.local().push_back(TaskEvent{
          e.index, t, ThreadIndex(),
          std::chrono::duration_cast<std::chrono::nanoseconds>(start - origin_).count(), ns, bytes});
    }
    if (g_.options.progress && st.ok()) {
      std::lock_guard<std::mutex> l(progress_->mu);
      ++progress_->done;
      if (!g_.options.progress(Progress{e.node ? e.node->name : e.name, progress_->done, progress_->total})) {
        Fail(absl::CancelledError(absl::StrCat("run cancelled by the progress callback after ", progress_->done,
                                               " of ", progress_->total, " tile tasks")));
      }
    }
  }
  if constexpr (kTsan) {
    if (e.kind == ExecKind::kFileSink) TsanRelease(&e.serial_sync);
  }
  if (in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1) TryAdmit(true);
  TsanRelease(&done_sync_);  // the body's last access to the run
}

absl::Status GroupRun::Execute(int workers, RunStats* stats) {
  // Allow `workers` threads even beyond the machine's cores (oneTBB's
  // default pool has cores - 1 workers).
  tbb::global_control threads(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(workers));
  tbb::task_arena arena(workers);
  arena.execute([&] {
    tbb::flow::graph fg;
    for (size_t ei = 0; ei < exec_.size(); ++ei) {
      const size_t concurrency = exec_[ei]->kind == ExecKind::kFileSink ? 1 : tbb::flow::unlimited;
      exec_[ei]->flow = std::make_unique<tbb::flow::function_node<int>>(
          fg, concurrency, TaskBody{this, static_cast<int>(ei)});
    }
    TsanRelease(&tsan_graph_built);
    TryAdmit(false);
    if (in_flight_.load() == 0) TryAdmit(true);
    fg.wait_for_all();
    if constexpr (kTsan) {
      // wait_for_all waits inside libtbb for the graph's wait context to drop
      // to zero, and each task's very last step (after our body, after
      // oneTBB's own bookkeeping on the node) is an atomic decrement of it in
      // oneTBB's header. A no-op reserve/release of the context makes TSan
      // see the acquire that libtbb does, before the nodes are destroyed and
      // the graph's stack memory is reused.
      fg.reserve_wait();
      fg.release_wait();
    }
    TsanAcquire(&done_sync_);
    for (auto& e : exec_) e->flow.reset();
  });
  // Drop whatever a cancelled run left in the store.
  for (auto& s : slots_) {
    for (int t = 0; t < n_; ++t) s->entries[t].buffer.reset();
  }
  FillStats(stats);
  std::lock_guard<std::mutex> l(error_mu_);
  if (!error_.ok()) return error_;
  for (auto& e : exec_) {
    if (e->kind == ExecKind::kReduce) {
      Node& n = g_.nodes[e->node->id];
      n.reduce_value = std::move(e->accumulator);
      n.reduce_done = true;
    }
  }
  return absl::OkStatus();
}

// GDAL's share of a total budget: an eighth, within [1, 16] MiB.
int64_t GdalCacheShare(int64_t total) { return std::clamp(total / 8, int64_t{1} * kMiB, kMaxGdalCache); }

// The smallest total budget whose tile share (total - GDAL's share) holds
// `tiles` bytes. total - share(total) never decreases as total grows, so the
// iteration from below stops at the least such total.
int64_t MinimumTotalBudget(int64_t tiles) {
  int64_t total = tiles;
  while (total - GdalCacheShare(total) < tiles) total = tiles + GdalCacheShare(total);
  return total;
}

int64_t CurrentRss() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<int64_t>(resident) * ::sysconf(_SC_PAGESIZE);
}

int64_t PeakRss() {
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

int DefaultTileSize(const GraphState& g, const std::vector<int>& ids) {
  for (int id : ids) {
    const Node& n = g.nodes[id];
    if (n.kind != NodeKind::kFileSource) continue;
    const int bw = n.file->block_width(), bh = n.file->block_height();
    if (bw == bh && bw >= 64 && bw <= 1024) return bw;
  }
  return 256;
}

}  // namespace

absl::Status GraphState::Execute(std::vector<SinkRequest> sinks) {
  const auto start = Clock::now();
  last_stats = RunStats{};
  // Needed logical nodes, grouped by image size (a Map keeps the size, so a
  // connected part of the graph has one size).
  std::vector<bool> needed(nodes.size(), false);
  std::vector<int> stack;
  for (const SinkRequest& r : sinks) stack.push_back(r.kind == SinkRequest::Kind::kReduce ? r.reduce_node : r.port.node);
  while (!stack.empty()) {
    const int id = stack.back();
    stack.pop_back();
    if (needed[id]) continue;
    needed[id] = true;
    for (const Port& p : nodes[id].inputs) stack.push_back(p.node);
  }
  for (size_t id = 0; id < nodes.size(); ++id) {
    if (needed[id] && nodes[id].kind == NodeKind::kMemorySource && nodes[id].memory == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("in-memory image '", nodes[id].name, "#", id,
                                                        "' was released and its pixels freed"));
    }
  }
  auto size_of = [&](int id) {
    const Node& n = nodes[id];
    const Profile& p = n.kind == NodeKind::kReduce ? ProfileOf(n.inputs[0]) : n.outputs[0];
    return std::make_pair(p.width, p.height);
  };
  std::vector<std::pair<int, int>> sizes;
  for (const SinkRequest& r : sinks) {
    auto sz = size_of(r.kind == SinkRequest::Kind::kReduce ? r.reduce_node : r.port.node);
    if (std::find(sizes.begin(), sizes.end(), sz) == sizes.end()) sizes.push_back(sz);
  }

  // Writers are created first (an unwritable path fails before any work)
  // and committed last (a failure anywhere leaves no output).
  std::vector<std::unique_ptr<RasterSink>> files;
  std::map<SinkRequest*, RasterSink*> file_of;
  auto abort_all = [&] {
    for (auto& f : files) f->Abort();
  };

  const int64_t total_budget = options.memory_budget_bytes;
  const int64_t cache = total_budget > 0 ? GdalCacheShare(total_budget) : kMaxGdalCache;
  io::SetGdalCacheMax(cache);
  absl::Cleanup trim = [this] { pool.Trim(); };  // recycled blocks go back between runs
  last_stats.gdal_cache_max_bytes = cache;
  last_stats.workers = options.workers;
  last_sinks = sinks;
  for (SinkRequest& r : last_sinks) r.array = nullptr;

  // While tracing, a sampler records live bytes and RSS about every millisecond.
  std::atomic<bool> sampling{options.trace};
  std::thread sampler;
  auto sample = [&] {
    last_stats.counters_trace.push_back(CounterSample{
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count(), pool.live_bytes(),
        CurrentRss()});
  };
  if (options.trace) {
    sample();  // at least one sample before and one after, however short the run
    sampler = std::thread([&] {
      while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (!sampling.load(std::memory_order_acquire)) break;
        sample();
      }
    });
  }
  absl::Cleanup stop_sampler = [&] {
    sampling.store(false, std::memory_order_release);
    if (sampler.joinable()) {
      sampler.join();
      sample();
    }
    last_stats.peak_rss_bytes = PeakRss();
  };

  // Every group is planned (grid, writers, budget) before any runs, so that
  // a bad budget or path fails before work starts and progress covers the run.
  std::vector<std::unique_ptr<TileGrid>> grids;
  std::vector<std::unique_ptr<GroupRun>> runs;
  RunProgress progress;
  for (const auto& sz : sizes) {
    std::vector<int> ids;
    for (size_t id = 0; id < nodes.size(); ++id) {
      if (needed[id] && size_of(static_cast<int>(id)) == sz) ids.push_back(static_cast<int>(id));
    }
    std::vector<SinkRequest*> group_sinks;
    for (SinkRequest& r : sinks) {
      if (size_of(r.kind == SinkRequest::Kind::kReduce ? r.reduce_node : r.port.node) == sz) group_sinks.push_back(&r);
    }
    absl::StatusOr<TileGrid> grid = MakeTileGrid(sz.first, sz.second, options.tiling, options.workers,
                                                 DefaultTileSize(*this, ids));
    if (!grid.ok()) {
      abort_all();
      return grid.status();
    }
    grids.push_back(std::make_unique<TileGrid>(*std::move(grid)));
    const TileGrid& g = *grids.back();
    int tw = 0, th = 0;
    const bool uniform = g.IsUniform(&tw, &th);
    // One row of tiles: its height is the image's; round the block height up
    // to GeoTIFF's multiple of 16 so that tiles stay whole blocks (written
    // directly, not through GDAL's cache).
    if (uniform && g.tiles_y() == 1 && g.tiles_x() > 1) th = (th + 15) / 16 * 16;
    if (last_stats.tile_width == 0) {
      last_stats.tile_width = g.xs()[1];
      last_stats.tile_height = g.ys()[1];
    }
    for (SinkRequest* r : group_sinks) {
      if (r->kind != SinkRequest::Kind::kFile) continue;
      const Profile& p = ProfileOf(r->port);
      absl::StatusOr<std::unique_ptr<RasterSink>> f =
          io::CreateGeoTiff(r->path, p, uniform ? tw : 256, uniform ? th : 256, r->options);
      if (!f.ok()) {
        abort_all();
        return f.status();
      }
      file_of[r] = f->get();
      files.push_back(*std::move(f));
    }
    // The budget: the user's (minus GDAL's cache), or a default that is
    // raised to the graph's minimum.
    auto run = std::make_unique<GroupRun>(*this, g);
    run->Build(ids, group_sinks, file_of);
    const int64_t min_ws = run->min_working_set();
    const int64_t store_budget =
        total_budget > 0 ? total_budget - cache : std::max(kDefaultBudget - cache, min_ws);
    last_stats.budget_bytes = std::max(last_stats.budget_bytes, store_budget);
    last_stats.min_budget_bytes = std::max(last_stats.min_budget_bytes, min_ws);
    last_stats.tiles += g.num_tiles();
    run->set_store_budget(store_budget);
    run->set_progress(&progress);
    progress.total += run->num_tasks();
    runs.push_back(std::move(run));
  }
  // A user budget must hold the largest minimum of all the run's groups.
  if (total_budget > 0 && total_budget - cache < last_stats.min_budget_bytes) {
    abort_all();
    const int64_t need = last_stats.min_budget_bytes;
    return absl::ResourceExhaustedError(absl::StrCat(
        "memory budget of ", total_budget, " bytes is too small: one tile's working set needs ", need,
        " bytes of tiles plus GDAL's cache share of the budget; raise the budget to at least ",
        absl::StrFormat("%.2f MiB", MinimumTotalBudget(need) / static_cast<double>(kMiB)), " (",
        MinimumTotalBudget(need), " bytes) or use smaller tiles than ", last_stats.tile_width, "x",
        last_stats.tile_height, " pixels"));
  }
  for (auto& run : runs) {
    pool.ResetPeak(run->num_exec(), [] { return io::GdalCacheUsed(); });
    if (options.trace) run->EnableTrace(start, static_cast<int>(last_stats.nodes.size()));
    pool.set_retain_limit(last_stats.budget_bytes);  // recycle tile blocks within the budget
    absl::Status st = run->Execute(options.workers, &last_stats);
    if (pool.peak_bytes() >= last_stats.peak_live_bytes) {
      last_stats.peak_live_bytes = pool.peak_bytes();
      last_stats.gdal_cache_at_peak_bytes = pool.probe_at_peak();
    }
    if (!st.ok()) {
      abort_all();
      last_stats.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
      return st;
    }
  }
  std::vector<RasterSink*> finished;
  for (auto& f : files) {
    if (absl::Status s = f->Finish(); !s.ok()) {
      abort_all();
      return s;
    }
    finished.push_back(f.get());
  }
  if (absl::Status s = CommitAll(finished); !s.ok()) return s;
  last_stats.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return absl::OkStatus();
}

}  // namespace eoscale::internal
