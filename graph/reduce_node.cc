// Reduce nodes: a partial value per tile, folded in tile order (raster
// order) whatever the completion order: partials go through a
// sequencer_node, which holds only those that arrived early, into a serial
// fold. The result is the same for every worker count.
#include <any>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "eoscale/graph/gathering_node.h"
#include "eoscale/graph/graph_state.h"

namespace eoscale::internal {
namespace {

struct Partial {
  int64_t seq = 0;
  std::optional<std::any> value;  // empty when the tile failed or was skipped
};

class ReduceFlowNode final : public GatheringNode {
 public:
  ReduceFlowNode(GroupRun& run, int exec)
      : GatheringNode(run, exec),
        order_(run.flow(), [](const Partial& p) { return static_cast<size_t>(p.seq); }),
        fold_(run.flow(), tbb::flow::serial, FoldBody{this}) {
    tbb::flow::make_edge(order_, fold_);
  }

  void Finish() override {
    const int64_t n = run_.plan().grid->num_tiles();
    if (folded_ != n || run_.cancelled()) return;
    ReduceNode* r = const_cast<Node*>(run_.plan().exec[exec_].node)->AsReduce();
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
    Partial p{r.tile, std::nullopt};
    if (!part.ok()) {
      run_.Fail(absl::Status(part.status().code(),
                             absl::StrCat("reduce ", run_.Label(exec_), " failed on tile ", r.tile, " (",
                                          DescribeWindow(tile.window), "): ", part.status().message())));
    } else {
      p.value = *std::move(part);
    }
    run_.Sending(1);
    TsanBeforePut();
    order_.try_put(std::move(p));
    run_.TaskDone(exec_, r.tile, start, 0, part.ok());
  }

  struct FoldBody {
    ReduceFlowNode* self;
    tbb::flow::continue_msg operator()(Partial p) const {
      TsanBodyStart();
      TsanOpaque(this)->self->Fold(std::move(p));
      return {};
    }
  };
  void Fold(Partial p) {
    if (p.value.has_value() && !run_.cancelled()) {
      const ReduceNode& n = *run_.plan().exec[exec_].node->AsReduce();
      try {
        acc_ = folded_ == 0 ? std::move(*p.value) : n.combine(std::move(acc_), std::move(*p.value));
        ++folded_;
      } catch (const std::exception& ex) {
        run_.Fail(absl::InternalError(
            absl::StrCat("reduce ", run_.Label(exec_), ": combine threw an exception: ", ex.what())));
      } catch (...) {
        run_.Fail(absl::InternalError(absl::StrCat("reduce ", run_.Label(exec_), ": combine threw an exception")));
      }
    }
    run_.Received();
  }

  tbb::flow::sequencer_node<Partial> order_;
  tbb::flow::function_node<Partial> fold_;
  std::any acc_;        // touched by the serial fold only
  int64_t folded_ = 0;  // partials folded so far
};

}  // namespace

std::unique_ptr<FlowNode> MakeReduceNode(GroupRun& run, int exec) {
  return std::make_unique<ReduceFlowNode>(run, exec);
}

}  // namespace eoscale::internal
