// GraphState::Execute: one run, from the sink requests to committed
// outputs. Plans every group first (grids, writers, budget: a bad budget or
// path fails before any work), runs the groups one after another, then
// checks the sources did not change, finishes every output and commits
// them all together (core/raster_io.h: all outputs or none).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eoscale/core/file_identity.h"
#include "eoscale/graph/cost_model.h"
#include "eoscale/graph/distributed_run.h"
#include "eoscale/graph/distributed_stats.h"
#include "eoscale/graph/graph_state.h"
#include "eoscale/graph/group_run.h"
#include "eoscale/graph/plan.h"

namespace eoscale::internal {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
// The default budget: 64 MiB in all (a 48 MiB tile share and the 16 MiB I/O
// share), plus what the filters' scratch needs (kept apart, so that a
// filter's scratch does not slow its run down by shrinking the tiles').
constexpr int64_t kDefaultBudget = 64 * kMiB;
constexpr int64_t kMaxIoShare = 16 * kMiB;

// The share of a total budget left to the I/O layer (GDAL's blocks while a
// read is in flight, open handles): an eighth, within [1, 16] MiB.
int64_t IoShare(int64_t total) { return std::clamp(total / 8, int64_t{1} * kMiB, kMaxIoShare); }

// The smallest total budget whose tile share (total - IoShare(total)) holds
// `tiles` bytes. total - share(total) never decreases as total grows, so the
// iteration from below stops at the least such total.
int64_t MinimumTotalBudget(int64_t tiles) {
  int64_t total = tiles;
  while (total - IoShare(total) < tiles) total = tiles + IoShare(total);
  return total;
}

// The bytes of the largest tile of `tg` in an image of profile `p`.
int64_t MaxTileBytes(const TileGrid& tg, const Profile& p) {
  const auto [tw, th] = LargestTile(tg);
  return int64_t{tw} * th * p.bands * PixelSize(p.type);
}

// True when every row of tiles but the last has the first one's height.
bool RowsUniform(const TileGrid& tg) {
  const std::vector<int>& ys = tg.ys();
  for (size_t i = 1; i + 1 < ys.size(); ++i) {
    if (ys[i] - ys[i - 1] != ys[1] - ys[0]) return false;
  }
  return true;
}

// The budget the filters' per-worker scratch needs in a group: each Map's
// MapFilter::scratch_bytes for its largest input window (the largest tile
// grown by the margin, within the region), times the workers.

int64_t ScratchReserve(const GroupPlan& plan, int workers) {
  const TileGrid& tg = plan.grid->grid();
  const auto [tw, th] = LargestTile(tg);
  int64_t per_worker = 0;
  for (const ExecDesc& e : plan.exec) {
    const MapNode* m = e.node != nullptr ? e.node->AsMap() : nullptr;
    if (m == nullptr || !m->scratch_bytes) continue;
    const int64_t w = std::min<int64_t>(int64_t{tw} + 2 * int64_t{e.reach()}, tg.width());
    const int64_t h = std::min<int64_t>(int64_t{th} + 2 * int64_t{e.reach()}, tg.height());
    per_worker += std::max<int64_t>(0, m->scratch_bytes(e.input_profiles, static_cast<int>(w), static_cast<int>(h)));
  }
  return per_worker * std::max(1, workers);
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

// The node a request starts from.
int RootOf(const SinkRequest& r) { return r.kind == SinkRequest::Kind::kReduce ? r.reduce_node : r.port.node; }

// The image size a request's group runs over.
std::pair<int, int> SizeOf(const GraphState& g, const SinkRequest& r) {
  const Node& n = *g.nodes[RootOf(r)];
  const Profile& p = n.AsReduce() ? g.ProfileOf(n.inputs[0]) : n.outputs[0];
  return {p.width, p.height};
}

// The region a request keeps (the whole image unless a window was asked).
Window KeepOf(const GraphState& g, const SinkRequest& r) {
  const auto [w, h] = SizeOf(g, r);
  return r.window ? *r.window : Window{0, 0, w, h};
}

// Logical nodes a set of requests needs, sorted (hence topological).
std::vector<int> NeededNodes(const GraphState& g, const std::vector<SinkRequest*>& sinks) {
  std::vector<bool> needed(g.nodes.size(), false);
  std::vector<int> stack;
  for (const SinkRequest* r : sinks) stack.push_back(RootOf(*r));
  while (!stack.empty()) {
    const int id = stack.back();
    stack.pop_back();
    if (needed[id]) continue;
    needed[id] = true;
    for (const Port& p : g.nodes[id]->inputs) stack.push_back(p.node);
  }
  std::vector<int> ids;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    if (needed[id]) ids.push_back(static_cast<int>(id));
  }
  return ids;
}

}  // namespace

absl::Status GraphState::Execute(std::vector<SinkRequest> sinks) {
  // Distributed: clocks started together, progress and figures gathered on
  // rank 0 when everything below is over (distributed_stats.h).
  DistributedRunScope dist_scope(*this, sinks);
  const auto start = Clock::now();
  last_stats = RunStats{};
  last_stats.workers = options.workers;
  last_sinks = sinks;
  for (SinkRequest& r : last_sinks) r.array = nullptr;
  absl::Cleanup trim = [this] { pool.Trim(); };  // recycled blocks go back between runs
  // A distributed run (distribution.h): every return below goes through
  // `done`, which ends the run with the other ranks (all or nothing).
  // ReadAll alone is not distributed.
  Distribution* dist = nullptr;
  for (const SinkRequest& r : sinks) {
    if (r.kind != SinkRequest::Kind::kMemory && options.distribution != nullptr) dist = options.distribution.get();
  }
  std::vector<RasterSink*> writers;
  std::vector<DistributedOutput> dist_outputs;
  std::vector<int> dist_reduces;
  if (dist != nullptr) {
    last_stats.rank = dist->rank();
    last_stats.ranks = dist->size();
  }
  // Tiles of outputs written by rank 0 travel through a channel, opened
  // by every rank here, before any return (FinishDistributed ends it).
  std::unique_ptr<TileChannel> channel;
  std::vector<GatherSink*> gathered;           // this rank's
  std::vector<GatherSink*> gathered_by_output; // rank 0: by dist_outputs index
  if (dist != nullptr && dist->CanGatherTiles()) {
    for (const SinkRequest& r : sinks) {
      if (r.kind == SinkRequest::Kind::kFile && !IsVrtPath(r.path)) channel = dist->OpenTileChannel();
      if (channel) break;
    }
  }
  auto done = [&](absl::Status st) -> absl::Status {
    if (dist == nullptr) return st;
    return FinishDistributed(*this, *dist, std::move(st), writers, dist_outputs, dist_reduces, channel.get(),
                             gathered);
  };

  // Groups: requests over the same image size and the same kept region.
  using Key = std::tuple<int, int, int, int, int, int>;
  std::map<Key, std::vector<SinkRequest*>> by_key;
  std::vector<Key> order;
  for (SinkRequest& r : sinks) {
    const auto [w, h] = SizeOf(*this, r);
    const Window k = KeepOf(*this, r);
    const Key key{w, h, k.x, k.y, k.width, k.height};
    if (!by_key.count(key)) order.push_back(key);
    by_key[key].push_back(&r);
  }
  std::vector<std::vector<int>> group_nodes;
  std::vector<int> all_needed;
  for (const Key& key : order) {
    group_nodes.push_back(NeededNodes(*this, by_key[key]));
    for (int id : group_nodes.back()) {
      const SourceNode* s = nodes[id]->AsSource();
      if (s != nullptr && s->dropped) {
        return done(absl::FailedPreconditionError(
            absl::StrCat("in-memory image '", nodes[id]->name, "#", id, "' was released and its pixels freed")));
      }
      all_needed.push_back(id);
    }
  }
  std::sort(all_needed.begin(), all_needed.end());
  all_needed.erase(std::unique(all_needed.begin(), all_needed.end()), all_needed.end());

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
    last_stats.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  };

  // No output may be an input (any spelling) or another output.
  {
    std::vector<NamedPath> in_files, out_files;
    for (int id : all_needed) {
      const SourceNode* s = nodes[id]->AsSource();
      if (s == nullptr) continue;
      for (std::string& f : s->source->files()) in_files.push_back({absl::StrCat("input ", nodes[id]->Label()), f});
    }
    for (size_t i = 0; i < sinks.size(); ++i) {
      const SinkRequest& r = sinks[i];
      std::string target = r.kind == SinkRequest::Kind::kFile       ? r.path
                           : r.kind == SinkRequest::Kind::kUserSink ? r.sink->target()
                                                                    : std::string();
      if (!target.empty()) out_files.push_back({absl::StrCat("output ", out_files.size()), std::move(target)});
      if (dist != nullptr && r.kind == SinkRequest::Kind::kFile) {
        // This rank's part of it, beside it, must not be an input either.
        out_files.push_back({absl::StrCat("output ", out_files.size(), " (rank ", dist->rank(), "'s part)"),
                             PartPath(r.path, IsVrtPath(r.path), dist->rank(), dist->size())});
      }
    }
    if (absl::Status st = CheckDistinctFiles(in_files, out_files); !st.ok()) return done(st);
  }
  if (dist != nullptr) {
    for (const SinkRequest& r : sinks) {
      if (r.kind == SinkRequest::Kind::kUserSink) {
        return done(absl::UnimplementedError(absl::StrCat(
            "write '", r.sink->path(), "': a user's RasterSink is not supported in a distributed run yet")));
      }
      if (r.kind != SinkRequest::Kind::kReduce) continue;
      ReduceNode* n = nodes[r.reduce_node]->AsReduce();
      if (!n->serialize || !n->deserialize) {
        return done(absl::InvalidArgumentError(
            absl::StrCat("reduce ", n->Label(), ": its value cannot cross ranks; set ReduceFilter::serialize and "
                         "deserialize to run it in a distributed run")));
      }
      n->partials.clear();
      dist_reduces.push_back(r.reduce_node);
    }
  }

  // Writers are created before any work (a bad path fails first) and
  // committed last (a failure anywhere leaves no output).
  std::vector<std::unique_ptr<RasterSink>> owned;
  auto abort_all = [&] {
    for (RasterSink* w : writers) w->Abort();
  };
  const int64_t total_budget = options.memory_budget_bytes;
  const int64_t io_share = total_budget > 0 ? IoShare(total_budget) : kMaxIoShare;
  last_stats.gdal_cache_max_bytes = io_share;
  RunProgress progress;
  std::vector<std::unique_ptr<GroupRun>> runs;
  std::map<const SinkRequest*, GatherSink*> gathers_of;  // the requests of gathered outputs
  // What a group keeps out of its tile budget besides the I/O share: its
  // filters' scratch and the copies of tiles the channel holds; the largest.
  int64_t max_reserve = 0;
  for (size_t gi = 0; gi < order.size(); ++gi) {
    int64_t gathered_tile_bytes = 0;  // this group's largest tile of a gathered output
    const auto [w, h, kx, ky, kw, kh] = order[gi];
    const std::vector<int>& ids = group_nodes[gi];
    const Window region = GrowRegion(*this, ids, Window{kx, ky, kw, kh}, w, h);
    const DefaultTile default_tile = DefaultTileSize(*this, ids, region.width, region.height);
    // Rows restarted at a mosaic's row seams too, where the outputs can
    // assemble the blocks that leaves cut (FollowedRowSeams) in half the
    // I/O share: I/O buffering, like GDAL's blocks in flight, so that the
    // tiles' budget is the same either way.
    int64_t assembly = 0;
    const std::vector<int> row_seams =
        dist == nullptr && default_tile.width % 16 == 0 && default_tile.height % 16 == 0
            ? FollowedRowSeams(*this, ids, region, by_key[order[gi]], default_tile, io_share / 2, &assembly)
            : std::vector<int>{};
    absl::StatusOr<TileGrid> grid = MakeTileGrid(region.width, region.height, options.tiling, options.workers,
                                                 default_tile, ColumnSeams(*this, ids, region), row_seams);
    if (!grid.ok()) {
      abort_all();
      return done(grid.status());
    }
    const bool row_seamed = !row_seams.empty() && !RowsUniform(*grid);
    GroupPlan plan;
    if (dist != nullptr) {
      // This rank's rows of the single-process grid (distributed_run.h).
      const Window keep{kx, ky, kw, kh};
      const RankShare share = ShareOf(*this, ids, *grid, region, keep, w, h, dist->rank(), dist->size());
      for (SinkRequest* r : by_key[order[gi]]) {
        if (r->kind != SinkRequest::Kind::kFile) continue;
        DistributedOutput out;
        out.path = r->path;
        out.vrt = IsVrtPath(r->path);
        out.profile = CropProfile(ProfileOf(r->port), keep);
        out.options = r->options;
        int tw = 0, th = 0;
        const bool uniform = grid->IsUniform(&tw, &th);
        out.layout.block_width = uniform ? tw : 256;
        out.layout.block_height = uniform ? th : 256;
        out.layout.durable = r->durable;
        for (int k = 0; k < dist->size(); ++k) {
          const RankShare other = ShareOf(*this, ids, *grid, region, keep, w, h, k, dist->size());
          if (other.empty) continue;
          const Window& pw = other.part;
          out.parts.push_back({Window{pw.x - kx, pw.y - ky, pw.width, pw.height},
                               PartPath(r->path, out.vrt, k, dist->size())});
        }
        // Not in place: rank 0 writes it from the ranks' tiles, if it can.
        out.gathered = channel != nullptr && !out.vrt && !InPlace(*this, *dist, out);
        if (out.gathered) {
          std::unique_ptr<RasterSink> whole;
          if (dist->rank() == 0) {
            absl::StatusOr<std::unique_ptr<RasterSink>> f = format->Create(out.path, out.profile, out.layout, out.options);
            if (!f.ok()) {
              abort_all();
              return done(f.status());
            }
            whole = *std::move(f);
          }
          const Window offset{share.part.x - kx, share.part.y - ky, 0, 0};
          auto sink = std::make_unique<GatherSink>(out.path, static_cast<int>(dist_outputs.size()), offset,
                                                   std::move(whole), channel.get());
          gathered.push_back(sink.get());
          gathered_by_output.resize(dist_outputs.size() + 1, nullptr);
          gathered_by_output.back() = sink.get();
          gathers_of[r] = sink.get();
          gathered_tile_bytes = std::max(gathered_tile_bytes, MaxTileBytes(*grid, out.profile));
          writers.push_back(sink.get());
          owned.push_back(std::move(sink));
        }
        dist_outputs.push_back(std::move(out));
        r->path = PartPath(r->path, IsVrtPath(r->path), dist->rank(), dist->size());
        r->window = share.part;
      }
      if (share.empty) continue;  // nothing of this group here (its reductions: no partial)
      last_stats.owned_pixels += share.part.Pixels();
      last_stats.owned_tiles += share.reduce_end - share.reduce_begin;
      last_stats.computed_pixels += share.region.Pixels();
      plan.grid = std::make_unique<GroupGrid>(share.grid, share.region);
      plan.reduce_begin = share.reduce_begin;
      plan.reduce_end = share.reduce_end;
      plan.keep_partials = true;
    } else {
      plan.grid = std::make_unique<GroupGrid>(*std::move(grid), region);
    }
    const Window run_region = plan.grid->region();
    const TileGrid& tg = plan.grid->grid();
    if (last_stats.tile_width == 0) {
      last_stats.tile_width = tg.xs()[1];
      last_stats.tile_height = tg.ys()[1];
    }
    BuildGroupPlan(*this, ids, by_key[order[gi]], options.grow_tiles, &plan);
    CostModel costs = CostModel::Build(plan);
    // The stated minimum is the replay's peak, one task at a time; a budget
    // below what overlapping waves need runs that way (cost_model.h).
    const int64_t min_ws = costs.sequential_min();
    const int64_t parallel_min = costs.min_working_set();
    // The filters' scratch is kept out of the tile budget (it lives as long
    // as the run's workers, whatever the tiles in flight).
    const int64_t scratch = ScratchReserve(plan, options.workers);
    last_stats.scratch_reserve_bytes = std::max(last_stats.scratch_reserve_bytes, scratch);
    const int64_t held = channel != nullptr ? channel->max_held_tiles() * gathered_tile_bytes : 0;
    const int64_t reserve = scratch + held;
    max_reserve = std::max(max_reserve, reserve);
    // The default: 64 MiB in all, or, for a graph whose minimum is above
    // that, the minimum plus one tile's admission per worker (at its bare
    // minimum a run admits a tile only when earlier waves are done, and
    // the workers wait on each other: EOScale's pipeline at 10980^2 took
    // 3.5-4.8 s at its minimum against 2.9-3.3 s with such room).
    const int64_t store_budget =
        total_budget > 0 ? total_budget - io_share - reserve
                         : std::max(kDefaultBudget - io_share, parallel_min + options.workers * costs.max_cost());
    const bool sequential = store_budget < parallel_min;
    last_stats.min_parallel_budget_bytes = std::max(last_stats.min_parallel_budget_bytes, parallel_min);
    last_stats.sequential = last_stats.sequential || sequential;
    last_stats.budget_bytes = std::max(last_stats.budget_bytes, store_budget);
    last_stats.min_budget_bytes = std::max(last_stats.min_budget_bytes, min_ws);
    last_stats.tiles += plan.grid->num_tiles();
    // GeoTIFF blocks matching the tiles, so that tiles are whole blocks
    // (written directly). One row of tiles: round the block height up to
    // GeoTIFF's multiple of 16.
    int tw = 0, th = 0;
    const bool uniform = tg.IsUniform(&tw, &th);
    if (uniform && tg.tiles_y() == 1 && tg.tiles_x() > 1) th = (th + 15) / 16 * 16;
    // Columns restarted at a mosaic's seams (ColumnSeams), rows uniform:
    // blocks of the default tile, each row of tiles one row of blocks (the
    // sink assembles the blocks a seam's tiles cut, GeoTiffSink). Rows
    // restarted too: blocks of the default tile, assembled across rows.
    const bool seamed = !uniform && dist == nullptr && (RowsUniform(tg) || row_seamed) &&
                        default_tile.width % 16 == 0 &&
                        (tg.tiles_y() == 1 || row_seamed || (tg.ys()[1] - tg.ys()[0]) % 16 == 0);
    if (seamed) {
      tw = default_tile.width;
      th = tg.tiles_y() == 1 ? 256 : row_seamed ? default_tile.height : tg.ys()[1] - tg.ys()[0];
    }
    std::vector<std::pair<int, RasterSink*>> files;
    for (size_t ei = 0; ei < plan.exec.size(); ++ei) {
      SinkRequest* r = plan.exec[ei].sink;
      if (r == nullptr || r->kind == SinkRequest::Kind::kMemory) continue;
      RasterSink* sink = r->sink.get();
      if (auto gs = gathers_of.find(r); gs != gathers_of.end()) {
        files.push_back({static_cast<int>(ei), gs->second});  // in `writers` already
        continue;
      }
      if (r->kind == SinkRequest::Kind::kFile) {
        const Profile p = CropProfile(ProfileOf(r->port), KeepOf(*this, *r));
        const Window kept = r->Region(ProfileOf(r->port));
        // A distributed part starts on a row of the grid, if not on its region's corner.
        const bool aligned = dist != nullptr && uniform
                                 ? (kept.x - run_region.x) % tw == 0 && (kept.y - run_region.y) % th == 0
                                 : run_region.x == kept.x && run_region.y == kept.y;
        SinkLayout layout;
        layout.block_width = (uniform || seamed) && aligned ? tw : 256;
        layout.block_height = (uniform || seamed) && aligned ? th : 256;
        layout.durable = r->durable;
        layout.assemble_rows = seamed && row_seamed && aligned;
        absl::StatusOr<std::unique_ptr<RasterSink>> f = format->Create(r->path, p, layout, r->options);
        if (!f.ok()) {
          abort_all();
          return done(f.status());
        }
        sink = f->get();
        owned.push_back(*std::move(f));
      }
      writers.push_back(sink);
      files.push_back({static_cast<int>(ei), sink});
    }
    auto run = std::make_unique<GroupRun>(*this, std::move(plan), std::move(costs), &progress);
    for (auto [ei, sink] : files) run->set_file(ei, sink);
    run->set_store_budget(store_budget);
    run->set_sequential(sequential);
    progress.total += run->num_tasks();
    runs.push_back(std::move(run));
  }
  // A user budget must hold the largest minimum of all the run's groups,
  // with their filters' scratch.
  const int64_t scratch = last_stats.scratch_reserve_bytes;
  if (total_budget > 0 && total_budget - io_share - max_reserve < last_stats.min_budget_bytes) {
    abort_all();
    const int64_t need = last_stats.min_budget_bytes;
    const int64_t least = MinimumTotalBudget(need + max_reserve);
    return done(absl::ResourceExhaustedError(absl::StrCat(
        "memory budget of ", total_budget, " bytes is too small: one tile's working set needs ", need,
        " bytes of tiles", scratch > 0 ? absl::StrCat(", the filters' per-worker scratch ", scratch, " bytes,") : "",
        " plus the I/O share of the budget; raise the budget to at least ",
        absl::StrFormat("%.2f MiB", least / static_cast<double>(kMiB)), " (", least,
        " bytes) or use smaller tiles than ", last_stats.tile_width, "x", last_stats.tile_height, " pixels",
        scratch > 0 ? " or fewer workers" : "")));
  }
  if (channel != nullptr && dist->rank() == 0) {
    channel->Start([&gathered_by_output](int output, const ConstView& tile) -> absl::Status {
      if (output < 0 || static_cast<size_t>(output) >= gathered_by_output.size() ||
          gathered_by_output[output] == nullptr) {
        return absl::InternalError(absl::StrCat("a tile of output ", output, ", which rank 0 does not gather"));
      }
      return gathered_by_output[output]->WriteReceived(tile);
    });
  }
  for (auto& run : runs) {
    pool.ResetPeak(run->num_exec());
    if (options.trace) run->EnableTrace(start, static_cast<int>(last_stats.nodes.size()));
    // Recycle tile blocks within the budget; past it only for a default
    // budget (a user's budget bounds the process's memory).
    pool.set_retain_limit(last_stats.budget_bytes, /*headroom=*/total_budget <= 0);
    absl::Status st = run->Execute(options.workers, &last_stats);
    last_stats.peak_live_bytes = std::max(last_stats.peak_live_bytes, pool.peak_bytes());
    run.reset();  // its filters' scratch too: the next group has a reserve of its own
    if (!st.ok()) {
      abort_all();
      return done(st);
    }
  }
  // An input that changed under the run spoils its outputs.
  for (int id : all_needed) {
    const SourceNode* s = nodes[id]->AsSource();
    if (s == nullptr) continue;
    if (absl::Status st = s->source->CheckUnchanged(); !st.ok()) {
      abort_all();
      return done(st);
    }
  }
  for (RasterSink* w : writers) {
    if (absl::Status st = w->Finish(); !st.ok()) {
      abort_all();
      return done(st);
    }
  }
  if (dist != nullptr) return done(absl::OkStatus());
  return CommitAll(writers);
}

}  // namespace eoscale::internal
