// DOT dumps, traces and the memory report describe the run that happened.
#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "eoscale/graph/context.h"
#include "eoscale/graph/report.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

MapFilter AddOne(const std::string& name, int margin) {
  MapFilter f;
  f.name = name;
  f.margin = margin;
  f.fn = [](const MapTile& t) {
    const auto in = t.inputs[0].As<float>();
    const auto out = t.outputs[0].As<float>();
    for (int y = 0; y < out.rows(); ++y)
      for (int x = 0; x < out.cols(); ++x) out(0, y, x) = in(0, y + t.StableY(), x + t.StableX()) + 1.0f;
    return absl::OkStatus();
  };
  return f;
}

MapFilter Sum2(const std::string& name) {
  MapFilter f;
  f.name = name;
  f.fn = [](const MapTile& t) {
    const auto a = t.inputs[0].As<float>();
    const auto b = t.inputs[1].As<float>();
    const auto out = t.outputs[0].As<float>();
    for (int y = 0; y < out.rows(); ++y)
      for (int x = 0; x < out.cols(); ++x) out(0, y, x) = a(0, y, x) + b(0, y, x);
    return absl::OkStatus();
  };
  return f;
}

Profile FloatProfile(int w, int h) {
  Profile p;
  p.width = w;
  p.height = h;
  p.type = PixelType::kF32;
  return p;
}

// source -> a (margin 1) -> b ; source -> c ; (b, c) -> sum -> write
struct Diamond {
  std::unique_ptr<Context> ctx;
  testing::TempDir dir;
  std::string out;
};

void BuildDiamond(Diamond& d, int workers, bool trace) {
  ContextOptions o;
  o.workers = workers;
  o.tiling.tile_size = 32;
  o.trace = trace;
  d.ctx = *Context::Create(o);
  Image src = *d.ctx->CreateConstant(FloatProfile(200, 130), 2.0);
  Image a = (*d.ctx->Map({src}, AddOne("a", 1)))[0];
  Image b = (*d.ctx->Map({a}, AddOne("b", 0)))[0];
  Image c = (*d.ctx->Map({src}, AddOne("c", 2)))[0];
  Image sum = (*d.ctx->Map({b, c}, Sum2("sum")))[0];
  d.out = d.dir.File("sum.tif");
  EXPECT_TRUE(d.ctx->Write(sum, d.out).ok());
}

std::set<std::pair<std::string, std::string>> DotEdges(const std::string& dot) {
  std::set<std::pair<std::string, std::string>> edges;
  std::regex re(R"((\w+) -> (\w+))");
  for (auto it = std::sregex_iterator(dot.begin(), dot.end(), re); it != std::sregex_iterator(); ++it) {
    edges.insert({(*it)[1], (*it)[2]});
  }
  return edges;
}

TEST(DotTest, KnownGraphHasItsNodesAndEdges) {
  Diamond d;
  BuildDiamond(d, 2, false);
  const std::string before = d.ctx->ToDot();
  // Nodes: n0 source, n1 a, n2 b, n3 c, n4 sum, s0 the pending write.
  for (const char* n : {"n0 [", "n1 [", "n2 [", "n3 [", "n4 [", "s0 ["}) EXPECT_THAT(before, HasSubstr(n));
  EXPECT_THAT(before, Not(HasSubstr("n5 [")));
  const std::set<std::pair<std::string, std::string>> want = {
      {"n0", "n1"}, {"n1", "n2"}, {"n0", "n3"}, {"n2", "n4"}, {"n3", "n4"}, {"n4", "s0"}};
  EXPECT_EQ(DotEdges(before), want);
  EXPECT_THAT(before, HasSubstr("margin 1"));
  EXPECT_THAT(before, HasSubstr("200x130x1 f32"));
  EXPECT_THAT(before, Not(HasSubstr("tiles, busy")));  // nothing ran yet

  ASSERT_TRUE(d.ctx->Run().ok());
  const std::string after = d.ctx->ToDot();
  EXPECT_EQ(DotEdges(after), want);
  const int tiles = d.ctx->last_run_stats().tiles;  // 7 x 5 tiles of 32
  EXPECT_EQ(tiles, 7 * 5);
  EXPECT_THAT(after, HasSubstr(absl::StrCat(tiles, " tiles, busy")));
  EXPECT_THAT(after, HasSubstr("color=red"));  // a critical path is drawn
  EXPECT_THAT(after, HasSubstr("write " + d.out));
}

TEST(DotTest, RendersWithGraphvizWhenAvailable) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) GTEST_SKIP() << "graphviz not installed";
  Diamond d;
  BuildDiamond(d, 2, false);
  ASSERT_TRUE(d.ctx->Run().ok());
  const std::string dot = d.dir.File("g.dot"), svg = d.dir.File("g.svg");
  ASSERT_TRUE(d.ctx->WriteDot(dot).ok());
  ASSERT_EQ(std::system(("dot -Tsvg " + dot + " -o " + svg).c_str()), 0);
  std::ifstream f(svg);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_THAT(ss.str(), HasSubstr("<svg"));
}

TEST(TraceTest, OneCompleteEventPerTileTaskAndThreadsDoNotOverlap) {
  for (int workers : {1, 2, 4}) {
    Diamond d;
  BuildDiamond(d, workers, true);
    ASSERT_TRUE(d.ctx->Run().ok());
    const RunStats& s = d.ctx->last_run_stats();
    // 6 nodes (source, a, b, c, sum, write) x 35 tiles.
    EXPECT_EQ(s.tasks, 6 * 35);
    ASSERT_EQ(static_cast<int64_t>(s.tasks_trace.size()), s.tasks);
    std::map<int, std::vector<std::pair<int64_t, int64_t>>> by_thread;
    std::map<std::pair<int, int>, int> seen;
    for (const TaskEvent& e : s.tasks_trace) {
      EXPECT_GE(e.thread, 0);
      EXPECT_LT(e.thread, workers);
      by_thread[e.thread].push_back({e.start_ns, e.start_ns + e.duration_ns});
      ++seen[{e.node, e.tile}];
    }
    for (const auto& [key, n] : seen) EXPECT_EQ(n, 1) << "node " << key.first << " tile " << key.second;
    for (auto& [thread, spans] : by_thread) {
      std::sort(spans.begin(), spans.end());
      for (size_t i = 1; i < spans.size(); ++i) {
        EXPECT_LE(spans[i - 1].second, spans[i].first) << "overlap on thread " << thread;
      }
    }
    // The JSON has the same number of complete events.
    const std::string path = d.dir.File("t.json");
    ASSERT_TRUE(d.ctx->WriteTrace(path).ok());
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string json = ss.str();
    size_t complete = 0;
    for (size_t p = json.find("\"ph\":\"X\""); p != std::string::npos; p = json.find("\"ph\":\"X\"", p + 1)) ++complete;
    EXPECT_EQ(static_cast<int64_t>(complete), s.tasks);
    EXPECT_THAT(json, HasSubstr("\"ph\":\"C\""));
    EXPECT_THAT(json, HasSubstr("live tile bytes"));
  }
}

TEST(TraceTest, WriteTraceWithoutTracingIsAnError) {
  Diamond d;
  BuildDiamond(d, 2, false);
  ASSERT_TRUE(d.ctx->Run().ok());
  EXPECT_TRUE(d.ctx->last_run_stats().tasks_trace.empty());
  EXPECT_EQ(d.ctx->WriteTrace(d.dir.File("t.json")).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ReportTest, PerNodeLiveBytesAtThePeakAddUpToTheHighWaterMark) {
  for (int workers : {1, 2, 4}) {
    Diamond d;
  BuildDiamond(d, workers, false);
    ASSERT_TRUE(d.ctx->Run().ok());
    const RunStats& s = d.ctx->last_run_stats();
    EXPECT_GT(s.peak_live_bytes, 0);
    int64_t sum = 0, produced = 0;
    for (const NodeStats& n : s.nodes) {
      sum += n.live_at_peak;
      produced += n.bytes_produced;
      EXPECT_LE(n.live_at_peak, std::max<int64_t>(n.bytes_produced, n.live_at_peak));
    }
    EXPECT_EQ(sum, s.peak_live_bytes);
    EXPECT_GE(produced, s.peak_live_bytes);
    EXPECT_GT(s.peak_rss_bytes, 0);
    const std::string report = FormatMemoryReport(s);
    EXPECT_THAT(report, HasSubstr(absl::StrCat("peak live tile bytes          ", s.peak_live_bytes)));
    EXPECT_THAT(report, HasSubstr("sum#4"));
    EXPECT_THAT(report, HasSubstr("process peak RSS"));
  }
}

TEST(ProgressTest, CallbackSeesEveryTaskOnce) {
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 16;
  std::vector<int64_t> done;
  int64_t total = 0;
  o.progress = [&](const Progress& p) {
    done.push_back(p.tiles_done);
    total = p.tiles_total;
    return true;
  };
  auto ctx = *Context::Create(o);
  Image src = *ctx->CreateConstant(FloatProfile(64, 48), 1.0);
  Image a = (*ctx->Map({src}, AddOne("a", 1)))[0];
  auto arr = ctx->ReadAll(a);
  ASSERT_TRUE(arr.ok());
  const int64_t tasks = 3 * 12;  // source, a, read into memory
  EXPECT_EQ(total, tasks);
  ASSERT_EQ(static_cast<int64_t>(done.size()), tasks);
  for (size_t i = 0; i < done.size(); ++i) EXPECT_EQ(done[i], static_cast<int64_t>(i) + 1);
}

}  // namespace
}  // namespace eoscale
