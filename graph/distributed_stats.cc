// A distributed run's progress and figures gathered on rank 0 (see
// distributed_stats.h).
#include "eoscale/graph/distributed_stats.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>
#include <type_traits>
#include <utility>

#include "eoscale/graph/distributed_run.h"

namespace eoscale::internal {
namespace {

constexpr auto kPostEvery = std::chrono::milliseconds(20);

class Writer {
 public:
  template <typename T>
  void Put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void PutString(const std::string& s) {
    Put<int64_t>(static_cast<int64_t>(s.size()));
    out_ += s;
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& in) : in_(in) {}
  template <typename T>
  bool Get(T* v) {
    if (in_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetString(std::string* s) {
    int64_t n = 0;
    if (!Get(&n) || n < 0 || static_cast<uint64_t>(n) > in_.size() - pos_) return false;
    s->assign(in_, pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return true;
  }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  const std::string& in_;
  size_t pos_ = 0;
};

// A node's identity across ranks: a rank with no share of a group has none
// of its nodes, so nodes are matched by (id, kind, occurrence), not index.
using NodeKey = std::tuple<int, std::string, int>;
std::vector<NodeKey> KeysOf(const std::vector<NodeStats>& nodes) {
  std::map<std::pair<int, std::string>, int> seen;
  std::vector<NodeKey> keys;
  for (const NodeStats& n : nodes) keys.emplace_back(n.node_id, n.kind, seen[{n.node_id, n.kind}]++);
  return keys;
}

}  // namespace

RankStats OwnFigures(const RunStats& s) {
  RankStats r;
  r.tiles = s.tiles;
  r.owned_tiles = s.owned_tiles;
  r.tasks = s.tasks;
  r.peak_live_bytes = s.peak_live_bytes;
  r.budget_bytes = s.budget_bytes;
  r.peak_rss_bytes = s.peak_rss_bytes;
  r.wall_seconds = s.wall_seconds;
  return r;
}

std::string SerializeRunStats(const RunStats& s) {
  Writer w;
  w.Put(OwnFigures(s));
  w.Put(s.scratch_peak_bytes);
  w.Put(s.gdal_cache_at_peak_bytes);
  w.Put<int64_t>(static_cast<int64_t>(s.nodes.size()));
  for (const NodeStats& n : s.nodes) {
    w.PutString(n.name);
    w.PutString(n.kind);
    w.Put(n.node_id);
    w.Put(n.tiles);
    w.Put(n.bytes_produced);
    w.Put(n.live_at_peak);
    w.Put(n.busy_seconds);
    w.Put(n.grown_by);
  }
  w.Put<int64_t>(static_cast<int64_t>(s.tasks_trace.size()));
  for (const TaskEvent& e : s.tasks_trace) w.Put(e);
  w.Put<int64_t>(static_cast<int64_t>(s.counters_trace.size()));
  for (const CounterSample& c : s.counters_trace) w.Put(c);
  return w.Take();
}

bool DeserializeRunStats(const std::string& bytes, RunStats* s) {
  Reader r(bytes);
  RankStats own;
  int64_t n = 0;
  if (!r.Get(&own) || !r.Get(&s->scratch_peak_bytes) || !r.Get(&s->gdal_cache_at_peak_bytes) || !r.Get(&n)) {
    return false;
  }
  s->tiles = own.tiles;
  s->owned_tiles = own.owned_tiles;
  s->tasks = own.tasks;
  s->peak_live_bytes = own.peak_live_bytes;
  s->budget_bytes = own.budget_bytes;
  s->peak_rss_bytes = own.peak_rss_bytes;
  s->wall_seconds = own.wall_seconds;
  for (int64_t i = 0; i < n; ++i) {
    NodeStats ns;
    if (!r.GetString(&ns.name) || !r.GetString(&ns.kind) || !r.Get(&ns.node_id) || !r.Get(&ns.tiles) ||
        !r.Get(&ns.bytes_produced) || !r.Get(&ns.live_at_peak) || !r.Get(&ns.busy_seconds) || !r.Get(&ns.grown_by)) {
      return false;
    }
    s->nodes.push_back(std::move(ns));
  }
  if (!r.Get(&n)) return false;
  for (int64_t i = 0; i < n; ++i) {
    TaskEvent e;
    if (!r.Get(&e)) return false;
    s->tasks_trace.push_back(e);
  }
  if (!r.Get(&n)) return false;
  for (int64_t i = 0; i < n; ++i) {
    CounterSample c;
    if (!r.Get(&c)) return false;
    s->counters_trace.push_back(c);
  }
  return r.AtEnd();
}

void MergeRankStats(RunStats& into, const RunStats& k, int rank) {
  into.per_rank[rank] = OwnFigures(k);
  into.tasks += k.tasks;
  into.tiles += k.owned_tiles;
  into.peak_live_bytes = std::max(into.peak_live_bytes, k.peak_live_bytes);
  into.peak_rss_bytes = std::max(into.peak_rss_bytes, k.peak_rss_bytes);
  into.wall_seconds = std::max(into.wall_seconds, k.wall_seconds);
  into.scratch_peak_bytes = std::max(into.scratch_peak_bytes, k.scratch_peak_bytes);
  into.gdal_cache_at_peak_bytes = std::max(into.gdal_cache_at_peak_bytes, k.gdal_cache_at_peak_bytes);
  std::map<NodeKey, int> index;
  const std::vector<NodeKey> keys = KeysOf(into.nodes);
  for (size_t i = 0; i < keys.size(); ++i) index[keys[i]] = static_cast<int>(i);
  const std::vector<NodeKey> theirs = KeysOf(k.nodes);
  std::vector<int> remap(k.nodes.size());
  for (size_t i = 0; i < k.nodes.size(); ++i) {
    auto it = index.find(theirs[i]);
    if (it == index.end()) {
      into.nodes.push_back(k.nodes[i]);
      remap[i] = static_cast<int>(into.nodes.size()) - 1;
      continue;
    }
    NodeStats& n = into.nodes[it->second];
    n.tiles += k.nodes[i].tiles;
    n.bytes_produced += k.nodes[i].bytes_produced;
    n.busy_seconds += k.nodes[i].busy_seconds;
    n.live_at_peak = std::max(n.live_at_peak, k.nodes[i].live_at_peak);
    n.grown_by = std::max(n.grown_by, k.nodes[i].grown_by);
    remap[i] = it->second;
  }
  for (TaskEvent e : k.tasks_trace) {
    if (e.node >= 0 && e.node < static_cast<int>(remap.size())) e.node = remap[e.node];
    e.rank = rank;
    into.tasks_trace.push_back(e);
  }
  for (CounterSample c : k.counters_trace) {
    c.rank = rank;
    into.counters_trace.push_back(c);
  }
}

DistributedRunScope::DistributedRunScope(GraphState& g, const std::vector<SinkRequest>& sinks) : g_(g) {
  Distribution* d = g.options.distribution.get();
  if (d == nullptr || d->size() < 2) return;
  // The condition of GraphState::Execute: ReadAll alone is not distributed.
  const bool distributed = std::any_of(sinks.begin(), sinks.end(), [](const SinkRequest& r) {
    return r.kind != SinkRequest::Kind::kMemory;
  });
  if (!distributed) return;
  d_ = d;
  run_thread_ = std::this_thread::get_id();
  done_.assign(d->size(), 0);
  total_.assign(d->size(), 0);
  user_ = std::move(g.options.progress);
  g.options.progress = [this](const Progress& p) { return OnProgress(p); };
  d_->Barrier();  // the run's clock (Execute's start) starts here on every rank
}

Progress DistributedRunScope::JobProgress(const std::string& node) const {
  Progress p{node, own_done_, own_total_};
  for (size_t k = 1; k < done_.size(); ++k) {
    // A rank not heard from yet: about as much work as this one.
    const bool heard = total_[k] > 0;
    p.tiles_done += heard ? done_[k] : 0;
    p.tiles_total += heard ? total_[k] : own_total_;
  }
  p.tiles_done = std::min(p.tiles_done, p.tiles_total);
  return p;
}

bool DistributedRunScope::OnProgress(const Progress& p) {
  own_done_ = p.tiles_done;
  own_total_ = p.tiles_total;
  // MPI is called from the thread that called Run() only (a task it ran).
  const bool run_thread = std::this_thread::get_id() == run_thread_;
  // Another rank failed: stop here (FinishDistributed reports its error).
  if (run_thread && d_->PeerFailed()) return false;
  if (d_->rank() != 0) {
    const auto now = std::chrono::steady_clock::now();
    if (run_thread && now - last_post_ >= kPostEvery) {
      d_->PostProgress(p.tiles_done, p.tiles_total);
      last_post_ = now;
    }
    return user_ ? user_(p) : true;
  }
  if (run_thread) d_->PollProgress(done_, total_);
  return user_ ? user_(JobProgress(p.node)) : true;
}

DistributedRunScope::~DistributedRunScope() {
  if (d_ == nullptr) return;
  g_.options.progress = std::move(user_);
  std::vector<int64_t> all_done, all_total;
  d_->EndProgress(own_done_, own_total_, all_done, all_total);
  RunStats& s = g_.last_stats;
  const int ranks = d_->size();
  for (TaskEvent& e : s.tasks_trace) e.rank = d_->rank();
  for (CounterSample& c : s.counters_trace) c.rank = d_->rank();
  if (d_->rank() != 0) {
    d_->Send(0, SerializeRunStats(s));
    return;
  }
  s.per_rank.assign(ranks, RankStats{});
  s.per_rank[0] = OwnFigures(s);
  s.tiles = s.owned_tiles;
  for (int k = 1; k < ranks; ++k) {
    RunStats theirs;
    if (DeserializeRunStats(d_->Receive(k), &theirs)) MergeRankStats(s, theirs, k);
  }
  // A write's figures under the output's name (as the DOT graph names it),
  // not a rank's part's.
  std::map<std::string, std::string> names;
  for (const SinkRequest& r : g_.last_sinks) {
    if (r.kind != SinkRequest::Kind::kFile) continue;
    for (int k = 0; k < ranks; ++k) names["write " + PartPath(r.path, IsVrtPath(r.path), k, ranks)] = r.Describe();
  }
  for (NodeStats& n : s.nodes) {
    if (auto it = names.find(n.name); it != names.end()) n.name = it->second;
  }
  int64_t done = 0, total = 0;
  for (int k = 0; k < ranks; ++k) {
    done += all_done[k];
    total += all_total[k];
  }
  // The job's last figure, when every task ran (the run is over: the
  // answer cannot cancel it).
  if (g_.options.progress && total > 0 && done == total) {
    try {
      (void)g_.options.progress(Progress{"", done, total});
    } catch (...) {
    }
  }
}

}  // namespace eoscale::internal
