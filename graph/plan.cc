#include "eoscale/graph/plan.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"

namespace eoscale::internal {

GroupGrid::GroupGrid(TileGrid grid, Window region) : grid_(std::move(grid)), region_(region) {
  int tw = 0, th = 0;
  if (grid_.tiles_x() > 0 && grid_.tiles_y() > 0 && grid_.IsUniform(&tw, &th)) {
    uniform_w_ = tw;
    uniform_h_ = th;
  }
}

int GroupGrid::ColumnOf(int x) const {
  if (uniform_w_ > 0) return std::min(x / uniform_w_, grid_.tiles_x() - 1);
  const std::vector<int>& xs = grid_.xs();
  return static_cast<int>(std::upper_bound(xs.begin(), xs.end(), x) - xs.begin()) - 1;
}

int GroupGrid::RowOf(int y) const {
  if (uniform_h_ > 0) return std::min(y / uniform_h_, grid_.tiles_y() - 1);
  const std::vector<int>& ys = grid_.ys();
  return static_cast<int>(std::upper_bound(ys.begin(), ys.end(), y) - ys.begin()) - 1;
}

Window GroupGrid::TileWindow(int64_t t) const {
  const int row = static_cast<int>(t / grid_.tiles_x());
  const int col = static_cast<int>(t % grid_.tiles_x());
  const std::vector<int>& xs = grid_.xs();
  const std::vector<int>& ys = grid_.ys();
  return {region_.x + xs[col], region_.y + ys[row], xs[col + 1] - xs[col], ys[row + 1] - ys[row]};
}

Tile GroupGrid::Around(int64_t t, const Window& w, int margin) const {
  Tile tile;
  tile.index = static_cast<int>(std::min<int64_t>(t, INT32_MAX));
  tile.window = w;
  tile.left = std::min(margin, w.x - region_.x);
  tile.top = std::min(margin, w.y - region_.y);
  tile.right = std::min(margin, region_.x + region_.width - (w.x + w.width));
  tile.bottom = std::min(margin, region_.y + region_.height - (w.y + w.height));
  return tile;
}

Tile GroupGrid::TileWithMargin(int64_t t, int margin) const { return Around(t, TileWindow(t), margin); }

Tile GroupGrid::GrownTile(int64_t t, int grow, int margin) const {
  return Around(t, TileWithMargin(t, grow).Expanded(), margin);
}

void GroupGrid::TilesIntersecting(const Window& w, TileList* out) const {
  out->clear();
  const int x0 = std::max(w.x - region_.x, 0), y0 = std::max(w.y - region_.y, 0);
  const int x1 = std::min(w.x - region_.x + w.width, region_.width);
  const int y1 = std::min(w.y - region_.y + w.height, region_.height);
  if (x0 >= x1 || y0 >= y1) return;
  // The columns holding x0 and x1 - 1, the rows holding y0 and y1 - 1.
  const int c0 = ColumnOf(x0), c1 = ColumnOf(x1 - 1);
  const int r0 = RowOf(y0), r1 = RowOf(y1 - 1);
  for (int r = r0; r <= r1; ++r) {
    for (int c = c0; c <= c1; ++c) out->push_back(IndexOf(r, c));
  }
}

void GroupPlan::InputTiles(int slot, int margin, int64_t t, TileList* out) const {
  if (slots[slot].WholeTiles() || margin == 0) {  // the same tile of the same grid
    out->clear();
    out->push_back(t);
    return;
  }
  grid->TilesIntersecting(grid->TileWithMargin(t, margin).Expanded(), out);
}

int64_t GroupPlan::SlotTileBytes(int slot, int64_t t) const {
  const SlotDesc& s = slots[slot];
  const Window w = grid->TileWithMargin(t, s.read_margin).Expanded();
  const int64_t pixels = w.Pixels() * s.profile.bands * static_cast<int64_t>(PixelSize(s.profile.type));
  return kTileOverheadBytes +
         (s.from_source ? pixels : pixels + static_cast<int64_t>(OutputGuardBytes(s.profile, w)));
}

bool GroupPlan::NeedsGather(int slot, int margin, int64_t t) const {
  if (slots[slot].WholeTiles() || margin == 0) return false;
  return !grid->TileWindow(t).Contains(grid->TileWithMargin(t, margin).Expanded());
}

int64_t GroupPlan::GatherBytes(int slot, int margin, int64_t t) const {
  if (!NeedsGather(slot, margin, t)) return 0;
  const SlotDesc& s = slots[slot];
  const Window w = grid->TileWithMargin(t, margin).Expanded();
  return kTileOverheadBytes + w.Pixels() * s.profile.bands * static_cast<int64_t>(PixelSize(s.profile.type));
}

std::pair<int, int> LargestTile(const TileGrid& tg) {
  int tw = 0, th = 0;
  for (size_t i = 1; i < tg.xs().size(); ++i) tw = std::max(tw, tg.xs()[i] - tg.xs()[i - 1]);
  for (size_t i = 1; i < tg.ys().size(); ++i) th = std::max(th, tg.ys()[i] - tg.ys()[i - 1]);
  return {tw, th};
}

namespace {

// Whether a Map computing its tiles grown by `grow` costs little enough:
// the grown tile's pixels at most 1.25 x the tile's for a filter with a
// margin, 2.25 x for one without (a per-pixel function, about as cheap per
// pixel as the gather copy it saves), on the group's largest tile.
bool GrowAffordable(int grow, int margin, const TileGrid& grid) {
  const auto [tw, th] = LargestTile(grid);
  const double w = std::min<double>(static_cast<double>(tw) + 2.0 * grow, grid.width());
  const double h = std::min<double>(static_cast<double>(th) + 2.0 * grow, grid.height());
  return w * h <= (margin == 0 ? 2.25 : 1.25) * static_cast<double>(tw) * th;
}

// Decides each Map's grow, from the sinks up (exec nodes are in
// topological order): a Map whose consumers read it with a reach R > 0
// computes its tiles grown by R when that is affordable, and its own inputs
// are then read R further. Its consumers then read one tile of it, which
// the next tiles never wait for: gathering instead keeps every tile of the
// image's current row alive until the row below it is computed (EOScale's
// pipeline at 10980^2, 512^2 tiles: the DSM's, the mask's and the filled
// DSM's rows, 126 MiB live; 8.9 MiB grown). ContextOptions::grow_tiles.
void ChooseGrows(GroupPlan* plan) {
  for (size_t i = plan->exec.size(); i-- > 0;) {
    ExecDesc& e = plan->exec[i];
    if (e.kind != ExecKind::kMap) continue;
    int reach = 0;
    for (int slot : e.outputs) {
      for (const EdgeDesc& ed : plan->slots[slot].edges) reach = std::max(reach, plan->exec[ed.consumer].reach());
    }
    // Past the region's larger side a grow covers the region all the same.
    const Window& region = plan->grid->region();
    reach = std::min(reach, std::max(region.width, region.height));
    if (reach > 0 && GrowAffordable(reach, e.margin, plan->grid->grid())) e.grow = reach;
  }
}

// The largest sum of margins on a path from a source to a sink of the group
// (what GrowRegion grows a region by). REQUIRES: node_ids sorted.
int64_t LongestMarginChain(const GraphState& g, const std::vector<int>& node_ids) {
  std::map<int, int64_t> depth;  // node id -> the largest sum of margins from it to a sink
  int64_t longest = 0;
  for (auto it = node_ids.rbegin(); it != node_ids.rend(); ++it) {
    const int64_t d = depth[*it];  // 0 for a node read by sinks only
    longest = std::max(longest, d);
    const MapNode* m = g.nodes[*it]->AsMap();
    const int64_t margin = m != nullptr ? m->margin : 0;
    for (const Port& p : g.nodes[*it]->inputs) depth[p.node] = std::max(depth[p.node], d + margin);
  }
  return longest;
}

}  // namespace

DefaultTile DefaultTileSize(const GraphState& g, const std::vector<int>& node_ids, int width, int height) {
  std::vector<BlockSize> blocks;
  for (int id : node_ids) {
    if (const SourceNode* s = g.nodes[id]->AsSource(); s != nullptr) {
      blocks.push_back({s->source->block_width(), s->source->block_height()});
    }
  }
  // A chain past the image's larger side reads all of it.
  const int64_t chain = std::min<int64_t>(LongestMarginChain(g, node_ids), std::max(width, height));
  return ChooseDefaultTile(width, height, blocks, static_cast<int>(chain));
}

namespace {

std::vector<int> Seams(const GraphState& g, const std::vector<int>& node_ids, const Window& region, bool rows) {
  std::vector<int> seams;
  if (LongestMarginChain(g, node_ids) > 0) return seams;
  const int origin = rows ? region.y : region.x;
  const int extent = rows ? region.height : region.width;
  for (int id : node_ids) {
    if (const SourceNode* s = g.nodes[id]->AsSource(); s != nullptr) {
      for (int v : rows ? s->source->row_seams() : s->source->column_seams()) {
        if (v - origin > 0 && v - origin < extent) seams.push_back(v - origin);
      }
    }
  }
  std::sort(seams.begin(), seams.end());
  seams.erase(std::unique(seams.begin(), seams.end()), seams.end());
  return seams;
}

}  // namespace

std::vector<int> ColumnSeams(const GraphState& g, const std::vector<int>& node_ids, const Window& region) {
  return Seams(g, node_ids, region, /*rows=*/false);
}

std::vector<int> RowSeams(const GraphState& g, const std::vector<int>& node_ids, const Window& region) {
  return Seams(g, node_ids, region, /*rows=*/true);
}

std::vector<int> FollowedRowSeams(const GraphState& g, const std::vector<int>& node_ids, const Window& region,
                                  const std::vector<SinkRequest*>& sinks, const DefaultTile& tile, int64_t limit,
                                  int64_t* assembly_bytes) {
  *assembly_bytes = 0;
  std::vector<int> seams = RowSeams(g, node_ids, region);
  if (seams.empty() || tile.width <= 0 || tile.height <= 0) return {};
  const int64_t columns = region.width / tile.width + 2 + static_cast<int64_t>(ColumnSeams(g, node_ids, region).size());
  const int64_t rows = region.height / tile.height + 2 + static_cast<int64_t>(seams.size());
  if (columns * rows > kMaxRowSeamedTiles) return {};
  int64_t bytes = 0;
  for (const SinkRequest* r : sinks) {
    if (r->kind != SinkRequest::Kind::kFile) continue;
    const Profile& p = g.ProfileOf(r->port);
    bytes += int64_t{r->Region(p).width} * tile.height * p.bands * static_cast<int64_t>(PixelSize(p.type));
  }
  if (bytes > limit) return {};
  *assembly_bytes = bytes;
  return seams;
}

Window GrowRegion(const GraphState& g, const std::vector<int>& node_ids, const Window& keep, int width,
                  int height) {
  const int64_t grow = LongestMarginChain(g, node_ids);
  const int x0 = static_cast<int>(std::max<int64_t>(0, keep.x - grow));
  const int y0 = static_cast<int>(std::max<int64_t>(0, keep.y - grow));
  const int x1 = static_cast<int>(std::min<int64_t>(width, int64_t{keep.x} + keep.width + grow));
  const int y1 = static_cast<int>(std::min<int64_t>(height, int64_t{keep.y} + keep.height + grow));
  return {x0, y0, x1 - x0, y1 - y0};
}

void BuildGroupPlan(const GraphState& g, const std::vector<int>& node_ids, const std::vector<SinkRequest*>& sinks,
                    bool grow_tiles, GroupPlan* plan) {
  std::map<int, int> exec_of;
  std::map<std::pair<int, int>, int> slot_of;
  auto add_input = [&](ExecDesc& e, int idx, int slot) {
    e.inputs.push_back(slot);
    e.input_profiles.push_back(plan->slots[slot].profile);
    plan->slots[slot].edges.push_back({idx, static_cast<int>(e.inputs.size()) - 1, e.margin});
  };
  for (int id : node_ids) {
    const Node& n = *g.nodes[id];
    ExecDesc e;
    e.node = &n;
    e.name = absl::StrCat(n.name, "#", n.id);
    e.kind = n.AsSource() ? ExecKind::kSource : n.AsMap() ? ExecKind::kMap : ExecKind::kReduce;
    e.margin = n.AsMap() ? n.AsMap()->margin : 0;
    e.output_profiles = n.outputs;
    const int idx = static_cast<int>(plan->exec.size());
    exec_of[id] = idx;
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      SlotDesc s;
      s.producer = idx;
      s.profile = n.outputs[o];
      s.from_source = n.AsSource() != nullptr;
      e.outputs.push_back(static_cast<int>(plan->slots.size()));
      slot_of[{id, static_cast<int>(o)}] = static_cast<int>(plan->slots.size());
      plan->slots.push_back(std::move(s));
    }
    for (const Port& p : n.inputs) add_input(e, idx, slot_of.at({p.node, p.output}));
    plan->exec.push_back(std::move(e));
  }
  for (SinkRequest* r : sinks) {
    if (r->kind == SinkRequest::Kind::kReduce) continue;  // the reduce node is the sink
    ExecDesc e;
    e.kind = r->kind == SinkRequest::Kind::kMemory ? ExecKind::kMemorySink : ExecKind::kFileSink;
    e.sink = r;
    e.name = r->Describe();
    e.keep = r->Region(g.ProfileOf(r->port));
    const int idx = static_cast<int>(plan->exec.size());
    add_input(e, idx, slot_of.at({r->port.node, r->port.output}));
    plan->exec.push_back(std::move(e));
  }
  if (grow_tiles) ChooseGrows(plan);
  for (SlotDesc& s : plan->slots) {
    s.read_margin = 0;
    for (EdgeDesc& ed : s.edges) {
      ed.margin = plan->exec[ed.consumer].reach();
      s.read_margin = std::max(s.read_margin, ed.margin);
    }
    if (!s.from_source) s.read_margin = plan->exec[s.producer].grow;
  }
}

}  // namespace eoscale::internal
