// The share of each rank and the end of a distributed run (see
// distributed_run.h). Every collective call here is made by every rank in
// the same order whatever happened locally: a rank's failure travels
// through Distribution::Agree, never by leaving the others waiting.
#include "eoscale/graph/distributed_run.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "eoscale/graph/plan.h"

namespace eoscale::internal {

RankShare ShareOf(const GraphState& g, const std::vector<int>& node_ids, const TileGrid& global,
                  const Window& group_region, const Window& keep, int width, int height, int rank, int ranks) {
  RankShare s;
  const std::vector<int>& ys = global.ys();
  const int rows = global.tiles_y();
  // Rows meeting keep: [k0, k1).
  int k0 = 0, k1 = rows;
  while (k0 < rows && group_region.y + ys[k0 + 1] <= keep.y) ++k0;
  while (k1 > k0 && group_region.y + ys[k1 - 1] >= keep.y + keep.height) --k1;
  const int64_t n = k1 - k0;
  // ceil(n * k / ranks): with fewer rows than ranks, the last ranks idle
  // (rank 0, which prints the figures, always has rows).
  const int a = k0 + static_cast<int>((n * rank + ranks - 1) / ranks);
  const int b = k0 + static_cast<int>((n * (rank + 1) + ranks - 1) / ranks);
  if (a >= b) return s;
  const int y0 = std::max(keep.y, group_region.y + ys[a]);
  const int y1 = std::min(keep.y + keep.height, group_region.y + ys[b]);
  if (y1 <= y0) return s;
  s.empty = false;
  s.part = Window{keep.x, y0, keep.width, y1 - y0};
  // The part grown by the margins, widened to whole rows of the grid, so
  // that the rank's tiles are the single-process tiles.
  const Window grown = GrowRegion(g, node_ids, s.part, width, height);
  int a2 = a, b2 = b;
  while (a2 > 0 && group_region.y + ys[a2] > grown.y) --a2;
  while (b2 < rows && group_region.y + ys[b2] < grown.y + grown.height) ++b2;
  std::vector<int> sub(ys.begin() + a2, ys.begin() + b2 + 1);
  for (int& y : sub) y -= ys[a2];
  s.grid = TileGrid(global.xs(), std::move(sub));
  s.region = Window{group_region.x, group_region.y + ys[a2], group_region.width, ys[b2] - ys[a2]};
  s.reduce_begin = static_cast<int64_t>(a - a2) * global.tiles_x();
  s.reduce_end = static_cast<int64_t>(b - a2) * global.tiles_x();
  return s;
}

bool IsVrtPath(const std::string& path) { return absl::EndsWithIgnoreCase(path, ".vrt"); }

std::string PartPath(const std::string& path, bool vrt, int rank, int ranks) {
  const std::string tag = absl::StrCat("part-", rank, "-of-", ranks);
  if (vrt) return absl::StrCat(path.substr(0, path.size() - 4), ".", tag, ".tif");
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return absl::StrCat(dir, ".", name, ".eoscale-", tag, ".tif");
}

namespace {

// A reduction's value on the wire: 'V' + bytes, 'N' (no value yet), or
// 'E' + code + message.
std::string EncodeError(const absl::Status& s) {
  std::string m = "E";
  m.push_back(static_cast<char>(s.code()));
  m.append(s.message().data(), s.message().size());
  return m;
}
absl::Status DecodeError(const std::string& m) {
  return absl::Status(static_cast<absl::StatusCode>(m[1]), m.substr(2));
}

// Folds reduction `node` across ranks, in tile order: rank k receives the
// fold of ranks 0 .. k-1, folds its own partials onto it and passes it on;
// the last rank's value is broadcast. The sequence of combine calls is the
// single process's, so the value is bitwise the same.
absl::Status FoldAcross(GraphState& g, Distribution& d, int node) {
  ReduceNode* r = g.nodes[node]->AsReduce();
  const std::string label = absl::StrCat("reduce ", g.nodes[node]->Label());
  std::optional<std::any> acc;
  absl::Status st;
  if (d.rank() > 0) {
    const std::string m = d.Receive(d.rank() - 1);
    if (m.empty() || m[0] == 'E') {
      st = m.size() < 2 ? absl::DataLossError(label + ": empty message from the previous rank") : DecodeError(m);
    } else if (m[0] == 'V') {
      absl::StatusOr<std::any> v = r->deserialize(m.substr(1));
      if (v.ok()) {
        acc = *std::move(v);
      } else {
        st = absl::Status(v.status().code(), absl::StrCat(label, ": ", v.status().message()));
      }
    }
  }
  for (std::any& p : r->partials) {
    if (!st.ok()) break;
    try {
      acc = acc.has_value() ? r->combine(*std::move(acc), std::move(p)) : std::move(p);
    } catch (const std::exception& ex) {
      st = absl::InternalError(absl::StrCat(label, ": combine threw an exception: ", ex.what()));
    } catch (...) {
      st = absl::InternalError(absl::StrCat(label, ": combine threw an exception"));
    }
  }
  r->partials.clear();
  std::string out;
  if (!st.ok()) {
    out = EncodeError(absl::Status(st.code(), absl::StrCat("rank ", d.rank(), " of ", d.size(), ": ", st.message())));
  } else if (acc.has_value()) {
    out = "V";
    out.append(r->serialize(*acc));
  } else {
    out = "N";
  }
  if (d.rank() + 1 < d.size()) d.Send(d.rank() + 1, out);
  const std::string final_value = d.Broadcast(d.size() - 1, d.rank() + 1 == d.size() ? out : std::string());
  if (final_value.empty() || final_value[0] == 'N') {
    return absl::InternalError(label + ": no tile was folded on any rank");
  }
  if (final_value[0] == 'E') return DecodeError(final_value);
  if (d.rank() + 1 == d.size()) {
    r->value = *std::move(acc);
  } else {
    absl::StatusOr<std::any> v = r->deserialize(final_value.substr(1));
    if (!v.ok()) return absl::Status(v.status().code(), absl::StrCat(label, ": ", v.status().message()));
    r->value = *std::move(v);
  }
  r->done = true;
  return absl::OkStatus();
}

void RollBack(const std::vector<RasterSink*>& sinks) {
  for (auto it = sinks.rbegin(); it != sinks.rend(); ++it) (*it)->Rollback();
}

}  // namespace

// Anything not in place is gathered on rank 0 (or assembled by it).
bool InPlace(const GraphState& g, const Distribution& d, const DistributedOutput& out) {
  if (out.vrt || !d.CanWriteTiffInPlace() || g.options.format != nullptr) return false;
  if (std::endian::native != std::endian::little) return false;
  if (!absl::EndsWithIgnoreCase(out.path, ".tif") && !absl::EndsWithIgnoreCase(out.path, ".tiff")) return false;
  for (const std::vector<std::string>* list : {&out.profile.writer_options, &out.options}) {
    for (const std::string& o : *list) {
      const size_t eq = o.find('=');
      if (eq == std::string::npos) return false;
      const std::string key = absl::AsciiStrToUpper(o.substr(0, eq));
      const std::string value = absl::AsciiStrToUpper(o.substr(eq + 1));
      if (key == "BIGTIFF" || (key == "COMPRESS" && value == "NONE")) continue;
      return false;
    }
  }
  const Profile& p = out.profile;
  const bool strips = out.layout.block_width >= p.width;
  const int bh = strips ? std::min(out.layout.block_height, p.height) : out.layout.block_height;
  if (bh <= 0 || (!strips && (out.layout.block_width % 16 != 0 || bh % 16 != 0))) return false;
  for (const DistributedOutput::Part& part : out.parts) {
    if (part.window.x != 0 || part.window.width != p.width || part.window.y % bh != 0) return false;
  }
  return true;
}

absl::Status FinishDistributed(GraphState& g, Distribution& d, absl::Status local,
                               const std::vector<RasterSink*>& writers,
                               const std::vector<DistributedOutput>& outputs, const std::vector<int>& reduces,
                               TileChannel* channel, const std::vector<GatherSink*>& gathered) {
  auto abort_all = [&] {
    for (RasterSink* w : writers) w->Abort();
  };
  // 1. Every rank's part is computed and its files finished (or not). A
  // rank that failed on its own tells the others at once, which cancel their
  // runs (distributed_stats.cc); a run cancelled so is no failure of its own
  // (the rank that caused it reports one).
  const bool by_peer = d.size() > 1 && local.code() == absl::StatusCode::kCancelled && d.PeerFailed();
  if (!local.ok() && !by_peer && d.size() > 1) d.NotifyFailure();
  // The tiles sent to rank 0 are all written (End needs no collective:
  // rank 0's channel thread, or its End, receives them whatever rank 0 is
  // doing; a rank 0 that failed has told the others first, so that it does
  // not wait for their whole shares), then rank 0 finishes the gathered
  // files.
  if (channel != nullptr) {
    const absl::Status ended = channel->End();
    if (local.ok()) local = ended;
  }
  for (GatherSink* s : gathered) {
    if (!local.ok()) break;
    local = s->Complete();
  }
  absl::Status st = d.Agree(by_peer ? absl::OkStatus() : local);
  d.EndFailures();
  const std::vector<int64_t> sums = d.SumAll({g.last_stats.owned_pixels, g.last_stats.computed_pixels});
  g.last_stats.owned_pixels = sums[0];
  g.last_stats.computed_pixels = sums[1];
  g.last_stats.halo_fraction = sums[0] > 0 ? static_cast<double>(sums[1]) / sums[0] - 1.0 : 0.0;
  if (!st.ok()) {
    abort_all();
    return st;
  }
  // 2. Reductions, in the order of the requests (the same on every rank).
  for (int node : reduces) {
    if (st = FoldAcross(g, d, node); !st.ok()) {
      abort_all();
      return st;
    }
  }
  // 3. Parts committed (a .vrt's under their names, the others' hidden).
  std::vector<RasterSink*> committed;
  absl::Status commit;
  for (RasterSink* w : writers) {
    if (commit = w->Commit(); !commit.ok()) break;
    committed.push_back(w);
  }
  if (st = d.Agree(commit); !st.ok()) {
    RollBack(committed);
    abort_all();
    return st;
  }
  // 4. Uncompressed GeoTIFFs written in place by every rank (MPI-IO): rank
  // 0 lays the file out through the format's sink (created and finished
  // with nothing written), every rank writes its blocks into it; rank 0
  // commits it below with the others.
  std::vector<std::unique_ptr<RasterSink>> in_place(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const DistributedOutput& out = outputs[i];
    if (out.gathered || !InPlace(g, d, out)) continue;
    InPlaceTiff t;
    t.profile = out.profile;
    t.block_width = out.layout.block_width;
    t.block_height = out.layout.block_height;
    t.durable = out.layout.durable;
    absl::Status prepared;
    if (d.rank() == 0) {
      absl::StatusOr<std::unique_ptr<RasterSink>> sink = g.format->Create(out.path, out.profile, out.layout, out.options);
      prepared = sink.status();
      if (prepared.ok()) {
        in_place[i] = *std::move(sink);
        prepared = in_place[i]->Finish();
        t.temp_path = in_place[i]->finished_path();
        if (prepared.ok() && t.temp_path.empty()) prepared = absl::InternalError("the format's sink has no file");
      }
    }
    for (const DistributedOutput::Part& part : out.parts) {
      if (part.path == PartPath(out.path, false, d.rank(), d.size())) {
        t.part_path = part.path;
        t.part_window = part.window;
      }
    }
    if (st = d.WriteTiffInPlace(prepared, t); !st.ok()) {
      for (auto& s : in_place) {
        if (s) s->Abort();
      }
      RollBack(committed);
      abort_all();
      return st;
    }
    ++g.last_stats.outputs_in_place;
  }
  for (const DistributedOutput& out : outputs) g.last_stats.outputs_gathered += out.gathered ? 1 : 0;
  // 5. Rank 0 joins the other parts into the outputs and puts them in place.
  std::vector<std::unique_ptr<RasterSink>> joined;
  std::vector<RasterSink*> joined_committed;
  absl::Status join;
  if (d.rank() == 0) {
    for (size_t i = 0; i < outputs.size(); ++i) {
      const DistributedOutput& out = outputs[i];
      if (in_place[i]) {
        joined.push_back(std::move(in_place[i]));
        continue;
      }
      if (out.gathered) continue;  // committed with the parts
      absl::StatusOr<std::unique_ptr<RasterSink>> j = JoinOutput(g, out);
      if (!j.ok()) {
        join = j.status();
        break;
      }
      joined.push_back(*std::move(j));
    }
    for (size_t i = 0; join.ok() && i < joined.size(); ++i) {
      if (join = joined[i]->Commit(); join.ok()) joined_committed.push_back(joined[i].get());
    }
    if (!join.ok()) {
      RollBack(joined_committed);
      for (auto& j : joined) j->Abort();
    }
  }
  if (st = d.Agree(join); !st.ok()) {
    RollBack(joined_committed);
    RollBack(committed);
    return st;
  }
  // 6. Final: drop what the commits replaced, and the hidden parts.
  for (auto& j : joined) j->Cleanup();
  for (RasterSink* w : writers) w->Cleanup();
  for (auto& j : joined) j->Sync();
  for (RasterSink* w : writers) w->Sync();
  for (const DistributedOutput& out : outputs) {
    if (out.vrt || out.gathered) continue;
    std::remove(PartPath(out.path, false, d.rank(), d.size()).c_str());
  }
  return absl::OkStatus();
}

}  // namespace eoscale::internal
