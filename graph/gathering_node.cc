#include "eoscale/graph/gathering_node.h"

#include <atomic>
#include <utility>

namespace eoscale::internal {
namespace {

std::atomic<PieceHandedHook> g_piece_handed_hook{nullptr};

}  // namespace

void SetPieceHandedHookForTesting(PieceHandedHook hook) {
  g_piece_handed_hook.store(hook, std::memory_order_release);
}

GatheringNode::GatheringNode(GroupRun& run, int exec)
    : run_(run), exec_(exec), ready_(run.flow(), tbb::flow::unlimited, ReadyBody{this}) {
  const ExecDesc& e = run.plan().exec[exec];
  single_piece_ = e.inputs.size() == 1 && (e.reach() == 0 || run.plan().slots[e.inputs[0]].WholeTiles());
  for (size_t i = 0; i < e.inputs.size(); ++i) {
    ports_.push_back(std::make_unique<tbb::flow::function_node<TileMsg>>(
        run.flow(), tbb::flow::unlimited, PortBody{this, static_cast<int>(i)}));
  }
}

tbb::flow::continue_msg GatheringNode::PortBody::operator()(const TileMsg& m) const {
  TsanBodyStart();
  const PortBody* b = TsanOpaque(this);
  b->self->OnPiece(b->input, m.tile, m.wave, m.Take());
  return {};
}

tbb::flow::continue_msg GatheringNode::ReadyBody::operator()(ReadyTile* r) const {
  TsanBodyStart();
  GatheringNode* s = TsanOpaque(this)->self;
  std::unique_ptr<ReadyTile> owned(r);
  if (!s->run_.cancelled()) s->Compute(*owned);
  owned.reset();
  s->run_.Received();
  return {};
}

void GatheringNode::Fire(ReadyTile& r) {
  if (!run_.sequential()) {
    Compute(r);
    return;
  }
  const int64_t tile = r.tile, wave = r.wave;
  run_.Ordered(exec_, tile, wave, [this, owned = std::move(r)]() mutable {
    if (!run_.cancelled()) Compute(owned);
  });
}

void GatheringNode::OnPiece(int input, int64_t tile, int64_t wave, TileBuffer buffer) {
  if (single_piece_ && !run_.cancelled()) {
    ReadyTile r;
    r.tile = tile;
    r.wave = wave;
    r.pieces.push_back(Piece{input, tile, wave, std::move(buffer)});
    Fire(r);
  } else if (!run_.cancelled()) {
    const GroupPlan& plan = run_.plan();
    const ExecDesc& e = plan.exec[exec_];
    TileList readers;
    plan.InputTiles(e.inputs[input], e.reach(), tile, &readers);  // symmetric: who reads `tile`
    absl::InlinedVector<ReadyTile, 2> ready;
    for (size_t k = 0; k < readers.size(); ++k) {
      const int64_t v = readers[k];
      // The last consumer tile takes this body's own reference, so that the
      // body holds none once its piece is in the gatherer: from then on
      // another thread may bring a tile's last piece, run it, and in
      // sequential mode go on with the replay's next tasks (GroupRun::
      // Ordered), which count this piece freed once its last reader ran. A
      // copy kept here up to a reset a few instructions later kept the piece
      // live past that point whenever this thread was preempted in between:
      // one source tile over a budget at the stated minimum, now and then
      // under load (random_graph_test, case 131 of shard 1: 87120 bytes live
      // for 62472; test: MemoryTest.SequentialRunHoldsNoPieceAfterItsHandOff).
      Piece piece{input, tile, wave, nullptr};
      if (k + 1 < readers.size()) {
        piece.buffer = buffer;
      } else {
        piece.buffer = std::move(buffer);
      }
      ReadyTile r;
      if (gatherer_.Add(v, [&] { return run_.ExpectedPieces(exec_, v); }, std::move(piece), &r)) {
        ready.push_back(std::move(r));
      }
    }
    buffer.reset();  // no-op: a tile is always among its own readers
    if (PieceHandedHook hook = g_piece_handed_hook.load(std::memory_order_acquire); hook != nullptr) {
      hook(exec_, tile, !ready.empty());
    }
    // The ready tiles and the gatherer hold their own references. In
    // sequential mode this thread may now run the next tasks in the replay's
    // order itself (a reference this body still held then kept a tile the
    // replay had freed: a chain of margin Maps on one 4 MiB tile held 3 tiles
    // under a 2-tile budget, fault_budget_test's LargeTilesChain).
    if (run_.sequential()) {
      for (ReadyTile& r : ready) Fire(r);
      ready.clear();
    }
    for (size_t k = 1; k < ready.size(); ++k) {
      auto* next = new ReadyTile(std::move(ready[k]));  // built before the release below
      run_.Sending(1);
      TsanBeforePut();
      ready_.try_put(next);
    }
    if (!ready.empty()) Compute(ready[0]);
  }
  // Drop this body's reference before it counts as done: a forced
  // admission at zero in flight must see every buffer that can be freed.
  buffer.reset();
  run_.Received();
}

}  // namespace eoscale::internal
