// Source nodes: admitted tile ids in, tiles out. Each tile is read from its
// RasterSource grown by the largest margin its readers need (so a source
// tile is never kept for its neighbours).
#include <memory>

#include "absl/strings/str_cat.h"
#include "eoscale/graph/graph_state.h"
#include "eoscale/graph/group_run.h"

namespace eoscale::internal {
namespace {

class SourceFlowNode final : public FlowNode {
 public:
  SourceFlowNode(GroupRun& run, int exec)
      : run_(run), exec_(exec), body_(run.flow(), tbb::flow::unlimited, Body{this}) {}

  tbb::flow::receiver<TileMsg>& Input(int) override { std::abort(); }  // sources have no input
  void Admit(int64_t t) {
    TsanBeforePut();
    body_.try_put(t);
  }

 private:
  struct Body {
    SourceFlowNode* self;
    tbb::flow::continue_msg operator()(int64_t t) const {
      TsanBodyStart();
      SourceFlowNode* s = TsanOpaque(self);
      s->run_.Ordered(s->exec_, t, /*wave=*/t, [s, t] { s->Read(t); });
      s->run_.Received();
      return {};
    }
  };

  void Read(int64_t t) {
    if (!run_.cancelled()) {
      const auto start = Clock::now();
      const GroupPlan& plan = run_.plan();
      const ExecDesc& e = plan.exec[exec_];
      const int slot = e.outputs[0];
      const SlotDesc& s = plan.slots[slot];
      const Window w = plan.grid->TileWithMargin(t, s.read_margin).Expanded();
      std::shared_ptr<PooledBuffer> buf = run_.NewBuffer(s.profile, w, exec_);
      const SourceNode& n = *e.node->AsSource();
      absl::Status st;
      try {
        st = n.source->Read(buf->view());
      } catch (const std::exception& ex) {
        st = absl::InternalError(absl::StrCat("threw an exception: ", ex.what()));
      } catch (...) {
        st = absl::InternalError("threw an exception");
      }
      if (!st.ok()) {
        run_.Fail(absl::Status(st.code(), absl::StrCat("source ", run_.Label(exec_), " failed on tile ", t, " (",
                                                       DescribeWindow(w), "): ", st.message())));
      } else {
        run_.Send(slot, t, /*wave=*/t, std::move(buf));
      }
      run_.TaskDone(exec_, t, /*wave=*/t, start, static_cast<int64_t>(w.Pixels()) * s.profile.bands * PixelSize(s.profile.type),
                    st.ok());
    }
  }

  GroupRun& run_;
  const int exec_;
  tbb::flow::function_node<int64_t> body_;
};

}  // namespace

std::unique_ptr<FlowNode> MakeSourceNode(GroupRun& run, int exec) {
  return std::make_unique<SourceFlowNode>(run, exec);
}

void AdmitToSource(FlowNode& source, int64_t t) { static_cast<SourceFlowNode&>(source).Admit(t); }

}  // namespace eoscale::internal
