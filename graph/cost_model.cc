#include "eoscale/graph/cost_model.h"

#include <algorithm>
#include <utility>

namespace eoscale::internal {

void CostModel::Replay(const GroupPlan& plan, CostModel* m) {
  const int64_t n = plan.grid->num_tiles();
  const size_t ne = plan.exec.size(), ns = plan.slots.size();
  TileList nb;
  // Inputs awaited per task, readers per produced tile.
  std::vector<std::vector<int>> pending(ne, std::vector<int>(n, 0));
  std::vector<std::vector<int>> readers(ns, std::vector<int>(n, 0));
  for (size_t si = 0; si < ns; ++si) {
    for (const EdgeDesc& ed : plan.slots[si].edges) {
      for (int64_t t = 0; t < n; ++t) {
        plan.InputTiles(static_cast<int>(si), ed.margin, t, &nb);
        pending[ed.consumer][t] += static_cast<int>(nb.size());
        for (int64_t u : nb) readers[si][u] += 1;
      }
    }
  }
  m->cost_.assign(n, 0);
  m->tasks_.assign(n, 0);
  m->order_.assign(ne * static_cast<size_t>(n), -1);
  if (m->record_waves_) m->wave_of_.assign(ne * static_cast<size_t>(n), -1);
  int64_t reserved = 0;
  int64_t live = 0;  // one task at a time, in this order
  m->min_working_set_ = 0;
  m->max_cost_ = 0;
  m->sequential_min_ = 0;
  std::vector<std::pair<int, int64_t>> work;
  for (int64_t t = 0; t < n; ++t) {
    int64_t cost = 0, freed = 0;
    int tasks = 0;
    for (size_t ei = 0; ei < ne; ++ei) {
      if (plan.exec[ei].kind == ExecKind::kSource) work.push_back({static_cast<int>(ei), t});
    }
    while (!work.empty()) {
      auto [ei, u] = work.back();
      work.pop_back();
      m->order_[static_cast<size_t>(ei) * n + u] = tasks++;
      if (!m->wave_of_.empty()) m->wave_of_[static_cast<size_t>(ei) * n + u] = t;
      const ExecDesc& e = plan.exec[ei];
      // What the task holds while it runs (its outputs and gathered inputs)
      // and what is freed when it returns.
      int64_t alloc = 0, released = 0;
      for (int slot : e.outputs) alloc += plan.SlotTileBytes(slot, u);
      for (int slot : e.inputs) {
        const int64_t gather = plan.GatherBytes(slot, e.reach(), u);
        alloc += gather;
        released += gather;
        plan.InputTiles(slot, e.reach(), u, &nb);
        for (int64_t v : nb) {
          if (--readers[slot][v] == 0) released += plan.SlotTileBytes(slot, v);
        }
      }
      for (int slot : e.outputs) {
        if (readers[slot][u] == 0) released += plan.SlotTileBytes(slot, u);
        for (const EdgeDesc& ed : plan.slots[slot].edges) {
          plan.InputTiles(slot, ed.margin, u, &nb);  // symmetric: the readers of u
          for (int64_t v : nb) {
            if (--pending[ed.consumer][v] == 0) work.push_back({ed.consumer, v});
          }
        }
      }
      cost += alloc;
      freed += released;
      m->sequential_min_ = std::max(m->sequential_min_, live + alloc);
      live += alloc - released;
    }
    m->cost_[t] = cost;
    m->max_cost_ = std::max(m->max_cost_, cost);
    m->tasks_[t] = tasks;
    m->min_working_set_ = std::max(m->min_working_set_, reserved + cost);
    reserved += cost - freed;
  }
}

CostModel CostModel::Build(const GroupPlan& plan, bool reduce) {
  CostModel m;
  m.record_waves_ = !reduce;
  const TileGrid& grid = plan.grid->grid();
  m.tiles_x_ = grid.tiles_x();
  m.tiles_y_ = grid.tiles_y();
  // Rows of dependency reach: a Map reading with reach m (ExecDesc::reach) reaches
  // ceil(m / tile height) rows of its producer; a chain adds up. Generous
  // on purpose (the replay is exact either way; only its length changes).
  const std::vector<int>& ys = grid.ys();
  bool uniform = m.tiles_y_ >= 2;
  const int th = ys.size() >= 2 ? ys[1] - ys[0] : 1;
  for (int r = 0; uniform && r + 1 < m.tiles_y_; ++r) uniform = ys[r + 1] - ys[r] == th;
  // The longest chain of such reaches (exec nodes are in topological order).
  std::vector<int64_t> to(plan.exec.size(), 0);
  int64_t reach = 1;
  for (size_t ei = 0; ei < plan.exec.size(); ++ei) {
    const ExecDesc& e = plan.exec[ei];
    int64_t before = 0;
    for (int slot : e.inputs) before = std::max(before, to[plan.slots[slot].producer]);
    to[ei] = before + (e.reach() + th - 1) / th + 1;
    reach = std::max(reach, to[ei] + 1);
  }
  const int64_t head = 3 * reach + 2;
  if (!reduce || !uniform || m.tiles_y_ <= 2 * head) {
    Replay(plan, &m);
    m.replayed_rows_ = m.tiles_y_;
    return m;
  }
  // The first `head` rows and the last `head` rows, as one grid.
  m.head_ = static_cast<int>(head);
  std::vector<int> rys(ys.begin(), ys.begin() + head + 1);
  for (int r = m.tiles_y_ - m.head_; r < m.tiles_y_; ++r) rys.push_back(rys.back() + ys[r + 1] - ys[r]);
  GroupPlan reduced;
  const Window& region = plan.grid->region();
  reduced.grid = std::make_unique<GroupGrid>(TileGrid(grid.xs(), rys),
                                             Window{region.x, region.y, region.width, rys.back()});
  reduced.exec = plan.exec;
  reduced.slots = plan.slots;
  Replay(reduced, &m);
  m.replayed_rows_ = 2 * m.head_;
  return m;
}

int CostModel::Order(int exec, int64_t tile, int64_t wave) const {
  int64_t r = tile;
  if (head_ != 0) {
    // The tile in the replayed grid stands where `tile` stands relative to
    // its wave (a task's tile is never below its wave's row).
    const int64_t shift = wave / tiles_x_ - Replayed(wave) / tiles_x_;
    r = tile - shift * tiles_x_;
  }
  const int64_t n = static_cast<int64_t>(tasks_.size());
  // Outside the replay (an engine bug): -1 is no task's turn, so the task
  // waits, and the run fails as "cascades unfinished while no task runs"
  // instead of reading past the table.
  if (r < 0 || r >= n || exec < 0 || static_cast<size_t>(exec) * n + r >= order_.size()) return -1;
  return order_[static_cast<size_t>(exec) * n + r];
}

int64_t CostModel::Replayed(int64_t t) const {
  if (head_ == 0) return t;
  int row = static_cast<int>(t / tiles_x_);
  const int col = static_cast<int>(t % tiles_x_);
  if (row >= tiles_y_ - head_) {
    row = row - (tiles_y_ - head_) + head_;
  } else if (row >= head_) {
    row = head_ - 1;  // a steady row: the middle of the image repeats it
  }
  return static_cast<int64_t>(row) * tiles_x_ + col;
}

}  // namespace eoscale::internal
