// The admission cost model replays a run on the grid's first and last rows
// only; it must give exactly what the replay of the whole grid gives, for
// every tile, on chains and branches of margin filters.
#include <memory>
#include <vector>

#include "eoscale/graph/cost_model.h"
#include "eoscale/graph/graph_state.h"
#include "eoscale/graph/memory_sources.h"
#include "eoscale/graph/plan.h"
#include "gtest/gtest.h"

namespace eoscale::internal {
namespace {

struct Case {
  int width, height, tile;
  std::vector<int> margins;  // a chain of maps; a negative margin branches from the source
};

class CostModelTest : public ::testing::TestWithParam<Case> {};

TEST_P(CostModelTest, ReducedReplayEqualsTheWholeGridReplay) {
  const Case& c = GetParam();
  GraphState g(ContextOptions{});
  Profile p;
  p.width = c.width;
  p.height = c.height;
  p.type = PixelType::kF32;
  auto src = std::make_unique<SourceNode>();
  src->outputs = {p};
  src->source = MakeConstantSource(p, 1);
  int prev = g.AddNode(std::move(src));
  const int source = prev;
  for (int m : c.margins) {
    auto n = std::make_unique<MapNode>();
    n->margin = m < 0 ? -m : m;
    n->inputs = {Port{m < 0 ? source : prev, 0}};
    n->outputs = {p};
    prev = g.AddNode(std::move(n));
  }
  std::vector<int> ids;
  for (int i = 0; i <= prev; ++i) ids.push_back(i);
  SinkRequest sink;
  sink.kind = SinkRequest::Kind::kMemory;
  sink.port = {prev, 0};
  // Gathering neighbours, and Maps computing grown tiles (ContextOptions::grow_tiles).
  for (const bool grow : {false, true}) {
    SCOPED_TRACE(grow ? "grown tiles" : "gathered tiles");
    GroupPlan plan;
    plan.grid = std::make_unique<GroupGrid>(TileGrid::Uniform(c.width, c.height, c.tile, c.tile),
                                            Window{0, 0, c.width, c.height});
    BuildGroupPlan(g, ids, {&sink}, grow, &plan);
    const CostModel full = CostModel::Build(plan, /*reduce=*/false);
    const CostModel reduced = CostModel::Build(plan, /*reduce=*/true);
    ASSERT_LT(reduced.replayed_rows(), full.replayed_rows()) << "the case must exercise the reduction";
    EXPECT_EQ(reduced.min_working_set(), full.min_working_set());
    EXPECT_EQ(reduced.sequential_min(), full.sequential_min());
    EXPECT_LE(full.sequential_min(), full.min_working_set());
    for (int64_t t = 0; t < plan.grid->num_tiles(); ++t) {
      ASSERT_EQ(reduced.Cost(t), full.Cost(t)) << "tile " << t;
      ASSERT_EQ(reduced.Tasks(t), full.Tasks(t)) << "tile " << t;
    }
    // Every task has its place in its wave's order, the same in both.
    for (size_t e = 0; e < plan.exec.size(); ++e) {
      for (int64_t t = 0; t < plan.grid->num_tiles(); ++t) {
        const int64_t wave = full.WaveOf(static_cast<int>(e), t);
        ASSERT_GE(wave, 0) << "exec " << e << " tile " << t;
        const int order = full.Order(static_cast<int>(e), t, wave);
        ASSERT_GE(order, 0);
        ASSERT_LT(order, full.Tasks(wave));
        ASSERT_EQ(reduced.Order(static_cast<int>(e), t, wave), order) << "exec " << e << " tile " << t;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Chains, CostModelTest,
    ::testing::Values(Case{64, 2048, 16, {0}}, Case{64, 2048, 16, {1}}, Case{48, 3000, 16, {1, 0, 2}},
                      Case{100, 4000, 16, {3, 17, 0}}, Case{64, 4100, 8, {1, -2, 1}},
                      Case{80, 5000, 16, {0, 0, 0, 0, 1}}, Case{300, 3000, 16, {2, 1}},
                      // 30 branches from the source: the reach is the longest chain, not the sum.
                      Case{64, 4000, 16, std::vector<int>(30, -1)}));

}  // namespace
}  // namespace eoscale::internal
