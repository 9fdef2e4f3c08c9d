// Reduce nodes: a partial value per tile, folded in tile order (raster
// order) whatever the completion order, through a small reorder buffer
// that holds only the partials that arrived early (oneTBB's sequencer_node
// idea; ours, because a cancelled run leaves gaps a sequencer would keep
// its items for). The result is the same for every worker count.
#include <any>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/graph/gathering_node.h"
#include "eoscale/graph/graph_state.h"

namespace eoscale::internal {
namespace {

class ReduceFlowNode final : public GatheringNode {
 public:
  using GatheringNode::GatheringNode;

  void Finish() override {
    std::lock_guard<AdaptiveMutex> l(mu_);
    const int64_t n = run_.plan().grid->num_tiles();
    if (folded_ != n || run_.cancelled()) return;
    ReduceNode* r = const_cast<Node*>(run_.plan().exec[exec_].node)->AsReduce();
    if (run_.plan().keep_partials) {
      r->partials = std::move(partials_);  // folded across ranks (distributed_run.cc)
      return;
    }
    r->value = std::move(acc_);
    r->done = true;
  }

 private:
  void Compute(ReadyTile& r) override {
    const auto start = Clock::now();
    const GroupPlan& plan = run_.plan();
    const ExecDesc& e = plan.exec[exec_];
    const ReduceNode& n = *e.node->AsReduce();
    const Tile tile = plan.grid->TileWithMargin(r.tile, 0);
    if (r.tile < plan.reduce_begin || r.tile >= plan.reduce_end) {
      // Another rank's tile (this one computes it as its halo): no partial.
      r.pieces.clear();
      Fold(r.tile, std::nullopt);
      run_.TaskDone(exec_, r.tile, r.wave, start, 0, true);
      return;
    }
    absl::InlinedVector<ConstView, 8> ins;
    absl::InlinedVector<std::shared_ptr<PooledBuffer>, 8> gathers;
    run_.InputViews(exec_, r, &ins, &gathers);
    ReduceTile rt{tile, absl::MakeConstSpan(ins), e.input_profiles};
    absl::StatusOr<std::any> part;
    try {
      part = n.map(rt);
    } catch (const std::exception& ex) {
      part = absl::InternalError(absl::StrCat("threw an exception: ", ex.what()));
    } catch (...) {
      part = absl::InternalError("threw an unknown exception");
    }
    gathers.clear();
    r.pieces.clear();
    if (!part.ok()) {
      run_.Fail(absl::Status(part.status().code(),
                             absl::StrCat("reduce ", run_.Label(exec_), " failed on tile ", r.tile, " (",
                                          DescribeWindow(tile.window), "): ", part.status().message())));
    } else {
      Fold(r.tile, *std::move(part));
    }
    run_.TaskDone(exec_, r.tile, r.wave, start, 0, part.ok());
  }

  // Folds every partial that is next in tile order.
  void Fold(int64_t t, std::optional<std::any> value) {
    std::lock_guard<AdaptiveMutex> l(mu_);
    early_.emplace(t, std::move(value));
    const ReduceNode& n = *run_.plan().exec[exec_].node->AsReduce();
    while (!early_.empty() && early_.begin()->first == folded_ && !run_.cancelled()) {
      std::optional<std::any> part = std::move(early_.begin()->second);
      early_.erase(early_.begin());
      if (!part.has_value() || run_.plan().keep_partials) {
        if (part.has_value()) partials_.push_back(*std::move(part));
        ++folded_;
        continue;
      }
      std::any v = *std::move(part);
      try {
        acc_ = folded_ == 0 ? std::move(v) : n.combine(std::move(acc_), std::move(v));
        ++folded_;
      } catch (const std::exception& ex) {
        run_.Fail(absl::InternalError(
            absl::StrCat("reduce ", run_.Label(exec_), ": combine threw an exception: ", ex.what())));
      } catch (...) {
        run_.Fail(absl::InternalError(absl::StrCat("reduce ", run_.Label(exec_), ": combine threw an exception")));
      }
    }
  }

  AdaptiveMutex mu_;
  std::map<int64_t, std::optional<std::any>> early_;  // guarded by mu_: partials ahead of the fold
  std::vector<std::any> partials_;     // guarded by mu_: kept for the fold across ranks
  std::any acc_;                       // guarded by mu_
  int64_t folded_ = 0;                 // guarded by mu_: partials folded so far
};

}  // namespace

std::unique_ptr<FlowNode> MakeReduceNode(GroupRun& run, int exec) {
  return std::make_unique<ReduceFlowNode>(run, exec);
}

}  // namespace eoscale::internal
