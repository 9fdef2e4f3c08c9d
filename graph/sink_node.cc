// Sink nodes, at the end of an image's edge: a file (or user) sink is a
// serial node (RasterSink::Write is called from one task at a time), a
// memory sink copies tiles into the caller's array. A region run keeps
// only the sink's window, in the sink's own coordinates.
#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "eoscale/graph/graph_state.h"
#include "eoscale/graph/group_run.h"

namespace eoscale::internal {
namespace {

class SinkFlowNode final : public FlowNode {
 public:
  SinkFlowNode(GroupRun& run, int exec, RasterSink* file)
      : run_(run), exec_(exec), file_(file),
        body_(run.flow(), file != nullptr ? tbb::flow::serial : tbb::flow::unlimited, Body{this}) {}
  tbb::flow::receiver<TileMsg>& Input(int) override { return body_; }

 private:
  struct Body {
    SinkFlowNode* self;
    tbb::flow::continue_msg operator()(const TileMsg& m) const {
      TsanBodyStart();
      SinkFlowNode* s = TsanOpaque(this)->self;
      TileBuffer buffer = m.Take();
      const int64_t tile = m.tile, wave = m.wave;
      s->run_.Ordered(s->exec_, tile, wave, [s, tile, wave, buffer = std::move(buffer)]() mutable {
        s->Write(tile, wave, std::move(buffer));
      });
      s->run_.Received();
      return {};
    }
  };

  void Write(int64_t tile, int64_t wave, TileBuffer buffer) {
    if (!run_.cancelled()) {
      const auto start = Clock::now();
      const ExecDesc& e = run_.plan().exec[exec_];
      const Window tw = run_.plan().grid->TileWindow(tile);
      const Window& keep = e.keep;
      const int x0 = std::max(tw.x, keep.x), y0 = std::max(tw.y, keep.y);
      const int x1 = std::min(tw.x + tw.width, keep.x + keep.width);
      const int y1 = std::min(tw.y + tw.height, keep.y + keep.height);
      absl::Status st;
      if (x0 < x1 && y0 < y1) {
        const Window part{x0, y0, x1 - x0, y1 - y0};
        const ConstView v = buffer->view().Sub(part);
        // In the sink's coordinates: its (0, 0) is the window's corner.
        const ConstView local(v.data(), v.type(), v.bands(), {x0 - keep.x, y0 - keep.y, part.width, part.height},
                              v.row_stride(), v.band_stride());
        try {
          if (file_ != nullptr) {
            st = file_->Write(local);
          } else {
            View dst = e.sink->array->mutable_view();
            CopyPixels(local, dst.Sub(local.window()));
          }
        } catch (const std::exception& ex) {
          st = absl::InternalError(absl::StrCat("threw an exception: ", ex.what()));
        } catch (...) {
          st = absl::InternalError("threw an exception");
        }
      }
      buffer.reset();
      if (!st.ok()) {
        run_.Fail(absl::Status(st.code(), absl::StrCat("node ", run_.Label(exec_), " failed on tile ", tile, " (",
                                                       DescribeWindow(tw), "): ", st.message())));
      }
      run_.TaskDone(exec_, tile, wave, start, 0, st.ok());
    }
    buffer.reset();
  }

  GroupRun& run_;
  const int exec_;
  RasterSink* file_;
  tbb::flow::function_node<TileMsg> body_;
};

}  // namespace

std::unique_ptr<FlowNode> MakeSinkNode(GroupRun& run, int exec, RasterSink* file) {
  return std::make_unique<SinkFlowNode>(run, exec, file);
}

}  // namespace eoscale::internal
