// Map nodes: a MapFunction over each tile grown by the node's grow
// (ExecDesc::grow; usually 0), its inputs grown by the margin around that,
// its outputs that window. Output buffers end with a guard, checked when the
// function returns: a filter that writes past its output fails the run with
// a message instead of corrupting the heap silently.
#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "eoscale/graph/gathering_node.h"
#include "eoscale/graph/graph_state.h"
#include "eoscale/graph/scratch.h"
#include "oneapi/tbb/enumerable_thread_specific.h"

namespace eoscale::internal {
namespace {

class MapFlowNode final : public GatheringNode {
 public:
  using GatheringNode::GatheringNode;

 private:
  void Compute(ReadyTile& r) override {
    const auto start = Clock::now();
    const GroupPlan& plan = run_.plan();
    const ExecDesc& e = plan.exec[exec_];
    const MapNode& n = *e.node->AsMap();
    const Tile tile = plan.grid->GrownTile(r.tile, e.grow, e.margin);
    absl::InlinedVector<ConstView, 8> ins;
    absl::InlinedVector<std::shared_ptr<PooledBuffer>, 8> gathers;
    run_.InputViews(exec_, r, &ins, &gathers);
    absl::InlinedVector<std::shared_ptr<PooledBuffer>, 4> outputs;
    absl::InlinedVector<View, 4> outs;
    int64_t bytes = 0;
    for (const Profile& p : e.output_profiles) {
      outputs.push_back(run_.NewBuffer(p, tile.window, exec_, OutputGuardBytes(p, tile.window)));
      outs.push_back(outputs.back()->view());
      bytes += static_cast<int64_t>(outputs.back()->bytes());
    }
    WorkerScratch& scratch = scratch_.local();
    MapTile mt{tile,         absl::MakeConstSpan(ins),  e.input_profiles, absl::MakeConstSpan(outs),
               e.output_profiles, &scratch.scratch};
    absl::Status st;
    try {
      st = n.fn(mt);
    } catch (const std::exception& ex) {
      st = absl::InternalError(absl::StrCat("threw an exception: ", ex.what()));
    } catch (...) {
      st = absl::InternalError("threw an unknown exception");
    }
    for (size_t j = 0; st.ok() && j < outputs.size(); ++j) {
      if (!outputs[j]->GuardIntact()) {
        st = absl::InternalError(absl::StrCat("wrote past the end of output ", j, " (", tile.window.width, "x",
                                              tile.window.height, " pixels, ", e.output_profiles[j].bands,
                                              " bands): the function must write only inside its output views"));
      }
    }
    if (const int64_t now = scratch.scratch.bytes(); now > scratch.peak) {
      run_.ScratchGrew(now - scratch.peak);
      scratch.peak = now;
    }
    gathers.clear();
    r.pieces.clear();  // the inputs' last reader may free them now
    if (!st.ok()) {
      outputs.clear();
      run_.Fail(absl::Status(st.code(), absl::StrCat("filter ", run_.Label(exec_), " failed on tile ", r.tile, " (",
                                                     DescribeWindow(tile.window), "): ", st.message())));
    } else {
      for (size_t j = 0; j < outputs.size(); ++j) run_.Send(e.outputs[j], r.tile, r.wave, std::move(outputs[j]));
    }
    run_.TaskDone(exec_, r.tile, r.wave, start, bytes, st.ok());
  }

  // One per worker thread and node (MapTile::GetScratch), for the run, with
  // the most bytes it held after a tile.
  struct WorkerScratch {
    Scratch scratch;
    int64_t peak = 0;
  };
  tbb::enumerable_thread_specific<WorkerScratch> scratch_;
};

}  // namespace

std::unique_ptr<FlowNode> MakeMapNode(GroupRun& run, int exec) { return std::make_unique<MapFlowNode>(run, exec); }

}  // namespace eoscale::internal
