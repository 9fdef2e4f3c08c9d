#include "eoscale/graph/gathering_node.h"

#include <utility>

namespace eoscale::internal {

GatheringNode::GatheringNode(GroupRun& run, int exec)
    : run_(run), exec_(exec), ready_(run.flow(), tbb::flow::unlimited, ReadyBody{this}) {
  const ExecDesc& e = run.plan().exec[exec];
  for (size_t i = 0; i < e.inputs.size(); ++i) {
    ports_.push_back(std::make_unique<tbb::flow::function_node<TileMsg>>(
        run.flow(), tbb::flow::unlimited, PortBody{this, static_cast<int>(i)}));
  }
}

tbb::flow::continue_msg GatheringNode::PortBody::operator()(const TileMsg& m) const {
  TsanBodyStart();
  const PortBody* b = TsanOpaque(this);
  b->self->OnPiece(b->input, m);
  return {};
}

tbb::flow::continue_msg GatheringNode::ReadyBody::operator()(ReadyTile r) const {
  TsanBodyStart();
  GatheringNode* s = TsanOpaque(this)->self;
  if (!s->run_.cancelled()) s->Compute(r);
  r.pieces.clear();
  s->run_.Received();
  return {};
}

void GatheringNode::OnPiece(int input, const TileMsg& m) {
  if (!run_.cancelled()) {
    const GroupPlan& plan = run_.plan();
    const ExecDesc& e = plan.exec[exec_];
    TileList readers;
    plan.InputTiles(e.inputs[input], e.margin, m.tile, &readers);  // symmetric: who reads m.tile
    absl::InlinedVector<ReadyTile, 2> ready;
    for (int64_t v : readers) {
      ReadyTile r;
      if (gatherer_.Add(v, run_.ExpectedPieces(exec_, v), Piece{input, m.tile, m.buffer}, &r)) {
        ready.push_back(std::move(r));
      }
    }
    for (size_t k = 1; k < ready.size(); ++k) {
      run_.Sending(1);
      TsanBeforePut();
      ready_.try_put(std::move(ready[k]));
    }
    if (!ready.empty()) Compute(ready[0]);
  }
  run_.Received();
}

}  // namespace eoscale::internal
