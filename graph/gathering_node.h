// Internal: the consumer side shared by Map and Reduce nodes. Each input is
// a function_node at the end of an image's edge; a tile message feeds every
// consumer tile that reads it (up to nine with a margin), and the consumer
// tile fires when its last piece arrives: inline in the body that brought
// it, or, when one message completes several tiles, as tasks of `ready_`.
#ifndef EOSCALE_GRAPH_GATHERING_NODE_H_
#define EOSCALE_GRAPH_GATHERING_NODE_H_

#include <memory>
#include <vector>

#include "eoscale/graph/group_run.h"
#include "eoscale/graph/test_hooks.h"

namespace eoscale::internal {

class GatheringNode : public FlowNode {
 public:
  GatheringNode(GroupRun& run, int exec);
  ~GatheringNode() override { gatherer_.Clear(); }
  tbb::flow::receiver<TileMsg>& Input(int i) override { return *ports_[i]; }

 protected:
  // Runs the consumer tile (its inputs all arrived). Drops r's pieces when
  // it no longer needs them.
  virtual void Compute(ReadyTile& r) = 0;
  GroupRun& run_;
  const int exec_;

 private:
  struct PortBody {
    GatheringNode* self;
    int input;
    tbb::flow::continue_msg operator()(const TileMsg& m) const;
  };
  // Owns the ReadyTile (a pointer: see TileMsg on why messages are trivial).
  struct ReadyBody {
    GatheringNode* self;
    tbb::flow::continue_msg operator()(ReadyTile* r) const;
  };
  void OnPiece(int input, int64_t tile, int64_t wave, TileBuffer buffer);
  // Computes a ready tile now, or when its turn comes (sequential mode).
  void Fire(ReadyTile& r);

  // One input read tile for tile (from a source, or without a margin):
  // every piece is a whole ready tile, and nothing waits.
  bool single_piece_ = false;

  Gatherer gatherer_;
  std::vector<std::unique_ptr<tbb::flow::function_node<TileMsg>>> ports_;
  tbb::flow::function_node<ReadyTile*> ready_;
};

}  // namespace eoscale::internal

#endif  // EOSCALE_GRAPH_GATHERING_NODE_H_
