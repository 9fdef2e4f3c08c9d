#include "eoscale/graph/report.h"

#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace eoscale {
namespace {

double MiB(int64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string FormatMemoryReport(const RunStats& s) {
  std::string out = absl::StrFormat("%-36s %7s %10s %15s %17s\n", "node", "tiles", "busy ms", "allocated MiB",
                                    "live at peak MiB");
  int64_t sum_at_peak = 0;
  for (const NodeStats& n : s.nodes) {
    out += absl::StrFormat("%-36s %7d %10.1f %15.1f %17.2f\n", n.name.substr(0, 36), n.tiles,
                           n.busy_seconds * 1e3, MiB(n.bytes_produced), MiB(n.live_at_peak));
    sum_at_peak += n.live_at_peak;
  }
  std::string grown;
  for (const NodeStats& n : s.nodes) {
    if (n.grown_by > 0) absl::StrAppend(&grown, grown.empty() ? "" : ", ", n.name, " by ", n.grown_by);
  }
  if (!grown.empty()) {
    out += absl::StrFormat("tiles computed grown (px)     %s (their readers take one tile, no gather)\n", grown);
  }
  out += absl::StrFormat("peak live tile bytes          %lld (%.2f MiB; budget %.1f MiB, minimum %.2f MiB)\n",
                         static_cast<long long>(s.peak_live_bytes), MiB(s.peak_live_bytes), MiB(s.budget_bytes),
                         MiB(s.min_budget_bytes));
  if (s.scratch_reserve_bytes > 0 || s.scratch_peak_bytes > 0) {
    out += absl::StrFormat("filters' per-worker scratch   %.2f MiB (kept for it %.2f MiB)\n", MiB(s.scratch_peak_bytes),
                           MiB(s.scratch_reserve_bytes));
  }
  out += absl::StrFormat("GDAL cache in use at the peak %.2f MiB (bound %.1f MiB)\n", MiB(s.gdal_cache_at_peak_bytes),
                         MiB(s.gdal_cache_max_bytes));
  out += absl::StrFormat("process peak RSS              %.1f MiB\n", MiB(s.peak_rss_bytes));
  out += absl::StrFormat("tiles %lld, tile tasks %lld, %d workers, wall %.3f s\n", static_cast<long long>(s.tiles),
                         static_cast<long long>(s.tasks), s.workers, s.wall_seconds);
  if (s.ranks > 1 && !s.per_rank.empty()) {
    out += absl::StrFormat("%d ranks (figures above: the job's; tiles and tasks summed, peaks the largest rank's); "
                           "they computed %.1f %% more pixels than they own (the halos)\n",
                           s.ranks, 100 * s.halo_fraction);
    for (size_t k = 0; k < s.per_rank.size(); ++k) {
      const RankStats& r = s.per_rank[k];
      out += absl::StrFormat("  rank %d: tiles %lld (owned %lld), tasks %lld, peak live %.2f MiB (budget %.1f MiB), "
                             "peak RSS %.1f MiB, wall %.3f s\n",
                             static_cast<int>(k), static_cast<long long>(r.tiles), static_cast<long long>(r.owned_tiles),
                             static_cast<long long>(r.tasks), MiB(r.peak_live_bytes), MiB(r.budget_bytes),
                             MiB(r.peak_rss_bytes), r.wall_seconds);
    }
  } else if (s.ranks > 1) {
    out += absl::StrFormat("rank %d of %d (figures above: this rank's); all ranks computed %.1f %% more pixels than "
                           "they own (the halos)\n",
                           s.rank, s.ranks, 100 * s.halo_fraction);
  }
  (void)sum_at_peak;
  return out;
}

std::string ChromeTraceJson(const RunStats& s) {
  // A distributed run: one process per rank (pid = rank, named "rank K");
  // else this process.
  const bool ranks = s.ranks > 1;
  const int self = static_cast<int>(::getpid());
  auto pid_of = [&](int rank) { return ranks ? rank : self; };
  std::string out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  bool first = true;
  auto add = [&](const std::string& ev) {
    if (!first) out += ",\n";
    first = false;
    out += ev;
  };
  // Workers per process.
  std::map<int, int> max_thread;
  if (ranks) {
    if (!s.per_rank.empty()) {
      for (int k = 0; k < s.ranks; ++k) max_thread[k] = -1;
    } else {
      max_thread[s.rank] = -1;
    }
  } else {
    max_thread[0] = -1;
  }
  for (const TaskEvent& e : s.tasks_trace) {
    int& m = max_thread[ranks ? e.rank : 0];
    m = std::max(m, e.thread);
  }
  for (const auto& [rank, threads] : max_thread) {
    const int pid = pid_of(rank);
    add(absl::StrFormat(R"({"ph":"M","pid":%d,"name":"process_name","args":{"name":"%s"}})", pid,
                        ranks ? absl::StrCat("rank ", rank) : std::string("eoscale run")));
    if (ranks) add(absl::StrFormat(R"({"ph":"M","pid":%d,"name":"process_sort_index","args":{"sort_index":%d}})", pid, rank));
    for (int t = 0; t <= threads; ++t) {
      add(absl::StrFormat(R"({"ph":"M","pid":%d,"tid":%d,"name":"thread_name","args":{"name":"worker %d"}})", pid, t,
                          t));
    }
  }
  for (const TaskEvent& e : s.tasks_trace) {
    const std::string name = e.node < static_cast<int>(s.nodes.size()) ? s.nodes[e.node].name : "?";
    const std::string cat = e.node < static_cast<int>(s.nodes.size()) ? s.nodes[e.node].kind : "?";
    add(absl::StrFormat(
        R"({"ph":"X","pid":%d,"tid":%d,"name":"%s","cat":"%s","ts":%.3f,"dur":%.3f,"args":{"tile":%d,"bytes":%lld}})",
        pid_of(e.rank), e.thread, JsonEscape(name), cat, e.start_ns / 1e3, e.duration_ns / 1e3, e.tile,
        static_cast<long long>(e.bytes)));
  }
  for (const CounterSample& c : s.counters_trace) {
    add(absl::StrFormat(R"({"ph":"C","pid":%d,"name":"live tile bytes","ts":%.3f,"args":{"bytes":%lld}})",
                        pid_of(c.rank), c.time_ns / 1e3, static_cast<long long>(c.live_bytes)));
    add(absl::StrFormat(R"({"ph":"C","pid":%d,"name":"process RSS","ts":%.3f,"args":{"bytes":%lld}})",
                        pid_of(c.rank), c.time_ns / 1e3, static_cast<long long>(c.rss_bytes)));
  }
  out += "\n]}\n";
  return out;
}

absl::Status WriteChromeTrace(const RunStats& stats, const std::string& path) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return absl::PermissionDeniedError(absl::StrCat("cannot write trace '", path, "'"));
  f << ChromeTraceJson(stats);
  f.close();
  if (!f) return absl::DataLossError(absl::StrCat("writing trace '", path, "' failed"));
  return absl::OkStatus();
}

}  // namespace eoscale
