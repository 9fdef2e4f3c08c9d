// Internal: what admitting each tile costs, and the smallest budget that
// always lets the next tile in (the minimum working set).
//
// Tiles are admitted in raster order. Admitting tile t makes a deterministic
// set of tasks runnable (its "cascade": the source reads of t, then every
// task whose last input that made possible); cost(t) is what those tasks
// allocate. Reserving cost(t) at admission covers every allocation before it
// is made. When the engine cannot admit tile t and nothing is in flight,
// every cascade of the tiles before t has run, so the bytes still reserved
// are exactly those of a sequential replay at the same point; a budget of
// max_t(reserved before t + cost(t)) therefore always lets the next tile in:
// no deadlock, whatever the order tasks actually run in.
//
// The replay needs per-tile counters, but not for the whole image: on a
// grid whose rows are uniform, a tile's cost depends only on the rows within
// the graph's dependency reach, so the replay runs on a grid of the first
// and last few rows (the middle rows repeat the last steady row of the
// head). Its state is proportional to the image's width, not its area.
#ifndef EOSCALE_GRAPH_COST_MODEL_H_
#define EOSCALE_GRAPH_COST_MODEL_H_

#include <cstdint>
#include <vector>

#include "eoscale/graph/plan.h"

namespace eoscale::internal {

class CostModel {
 public:
  // `reduce`: replay on the reduced grid when the grid allows it (tests
  // compare both).
  static CostModel Build(const GroupPlan& plan, bool reduce = true);

  // The smallest budget with which tiles may be admitted while earlier
  // waves still run (any order of tasks within and across waves fits).
  int64_t min_working_set() const { return min_working_set_; }
  // The smallest budget at all: the peak of the replay, one task at a time
  // in the replay's order (Order). A run whose budget is below
  // min_working_set() but not below this runs its tasks in that order, one
  // at a time, and never holds more.
  int64_t sequential_min() const { return sequential_min_; }
  // The most admitting one tile reserves (over the replayed tiles).
  int64_t max_cost() const { return max_cost_; }
  // What admitting tile t of the plan's grid reserves.
  int64_t Cost(int64_t t) const { return cost_[Replayed(t)]; }
  // The tile tasks admitting tile t makes runnable (its cascade, or
  // "wave"): the sources' reads of t and every task whose last input that
  // made possible. A task belongs to the wave of the latest of its inputs,
  // whatever order tasks actually run in, so the engine can tell when a
  // wave has finished by counting its tasks down.
  int Tasks(int64_t t) const { return tasks_[Replayed(t)]; }
  // The position, in the replay's order of its wave, of the task of exec
  // node `exec` on `tile` that belongs to `wave`: 0 .. Tasks(wave) - 1 (-1
  // for a task outside the replay, which never happens but must not read
  // past the table).
  int Order(int exec, int64_t tile, int64_t wave) const;
  // Tests: the wave of each task, recorded by a replay that was not
  // reduced (-1 otherwise, or for a task that never runs).
  int64_t WaveOf(int exec, int64_t tile) const {
    return wave_of_.empty() ? -1 : wave_of_[static_cast<size_t>(exec) * tasks_.size() + tile];
  }
  // Rows of the grid the replay ran on (the grid's own when not reduced).
  int replayed_rows() const { return replayed_rows_; }

 private:
  // The replayed tile that stands for tile t.
  int64_t Replayed(int64_t t) const;
  static void Replay(const GroupPlan& plan, CostModel* m);
  std::vector<int64_t> cost_;  // per replayed tile
  std::vector<int> tasks_;     // per replayed tile
  std::vector<int> order_;     // per exec node and replayed tile: see Order
  int64_t sequential_min_ = 0;
  bool record_waves_ = false;
  std::vector<int64_t> wave_of_;
  int64_t min_working_set_ = 0;
  int64_t max_cost_ = 0;
  int tiles_x_ = 1;
  int tiles_y_ = 1;
  int head_ = 0;  // rows replayed at the top; 0 when not reduced
  int replayed_rows_ = 0;
};

}  // namespace eoscale::internal

#endif  // EOSCALE_GRAPH_COST_MODEL_H_
