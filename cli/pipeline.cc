// eoscale pipeline: filters chained with '!', as GDAL's `gdal raster pipeline`.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "args.h"
#include "commands.h"
#include "pipeline_steps.h"
#include "session.h"

namespace eoscale::cli {

namespace {

const char kPipelineHelp[] =
    "usage: eoscale pipeline [common options] STEP [! STEP ...]\n"
    "\n"
    "One graph, run in one streaming pass: every step is a node, every 'write' an output, and\n"
    "all outputs are committed together or none. Steps are separated by a lone '!' (quote it\n"
    "as '!' or \\! in shells that expand it). A step is a name, its inputs and its options;\n"
    "it reads the previous step's output unless it names its inputs (images named with\n"
    "--as NAME), so one pipeline may hold several chains, inputs and outputs. Common options\n"
    "come before the first step; --window/--bbox apply to every write (each output is that\n"
    "window of the whole run's output) and not to stats, min-max or histogram.\n"
    "\n";

const char kPipelineExamples[] =
    "\n"
    "Examples:\n"
    "  # NDWI water mask of one date, as a COG\n"
    "  eoscale pipeline read s2.tif --bands 2,4 ! ndwi ! threshold --gt 0 ! write water.tif --cog\n"
    "\n"
    "  # 4-date water mask: water on every date\n"
    "  eoscale pipeline read d1.tif ! ndwi ! threshold --gt 0 --as w1 \\\n"
    "                 ! read d2.tif ! ndwi ! threshold --gt 0 --as w2 \\\n"
    "                 ! read d3.tif ! ndwi ! threshold --gt 0 --as w3 \\\n"
    "                 ! read d4.tif ! ndwi ! threshold --gt 0 --as w4 \\\n"
    "                 ! and w1 w2 w3 w4 ! write mask.tif\n"
    "\n"
    "  # EOScale's pipeline.py: nodata mask, fill, 3x3 mean, min and max\n"
    "  eoscale pipeline read dsm.tif --as dsm ! nodata-mask --as mask ! write nodata_mask.tif \\\n"
    "                 ! fill-nodata dsm mask --max-distance 100 ! write filled_dsm.tif \\\n"
    "                 ! uniform --size 3 ! write smooth_dsm.tif ! min-max\n"
    "\n"
    "  # band math across named images\n"
    "  eoscale pipeline read a.tif --as a ! read b.tif --as b \\\n"
    "                 ! calc --calc \"(a.b1 - b.b1) / 2\" ! write diff.tif\n"
    "\n";

}  // namespace

int PipelineCommand(const std::vector<std::string>& args) {
  CommonOptions common;
  // Common options, up to the first step's name.
  ArgReader r(args);
  std::vector<std::string> steps_tokens;
  while (!r.Done()) {
    if (!LooksLikeOption(r.Peek())) {
      steps_tokens = r.Rest();
      break;
    }
    const std::string a = r.Next();
    if (a == "-h" || a == "--help") {
      std::printf("%s%s\n%s%s", kPipelineHelp, kStepsHelp, CommonOptionsHelp(true).c_str(), kPipelineExamples);
      return kExitOk;
    }
    if (!ParseCommonOption(a, r, /*writes=*/true, &common)) {
      throw UsageError(absl::StrCat("unknown option ", a, " (common options come before the first step; ",
                                    "see eoscale pipeline --help)"));
    }
  }
  // Split into steps.
  std::vector<std::vector<std::string>> steps(1);
  for (const std::string& t : steps_tokens) {
    if (t == "!") {
      steps.emplace_back();
    } else {
      steps.back().push_back(t);
    }
  }
  if (steps_tokens.empty()) throw UsageError("no step (see eoscale pipeline --help)");
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].empty())
      throw UsageError(absl::StrCat("step ", i + 1, " is empty (two '!' in a row, or one at an end)"));
  }
  for (const auto& s : steps) {
    if (s[0] == "--help" || s[0] == "-h") {
      std::printf("%s%s\n%s%s", kPipelineHelp, kStepsHelp, CommonOptionsHelp(true).c_str(), kPipelineExamples);
      return kExitOk;
    }
  }

  Session session("pipeline", common);
  absl::StatusOr<Context*> ctx = session.context();
  if (!ctx.ok()) throw UsageError(ctx.status().ToString());
  PipelineState st;
  st.session = &session;
  st.ctx = *ctx;
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::vector<std::string> tokens(steps[i].begin() + 1, steps[i].end());
    BuildStep(static_cast<int>(i + 1), steps[i][0], tokens, &st);
  }
  if (st.writes.empty() && st.results.empty()) {
    throw UsageError("the pipeline has no 'write' step (nor stats, min-max, histogram): nothing to do");
  }
  if (!st.results.empty() && (common.window || common.bbox)) {
    throw UsageError(
        "--window/--bbox apply to writes only, not to stats, min-max or histogram steps "
        "(use 'eoscale stats --window' for the statistics of a window of a file)");
  }
  // Every output is checked before any write is requested.
  for (const PipelineState::Write& w : st.writes) session.CheckOutput(w.path, w.overwrite || common.overwrite);
  for (size_t i = 0; i < st.writes.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (st.writes[i].path == st.writes[j].path) {
        throw UsageError(absl::StrCat("'", st.writes[i].path, "' is written twice"));
      }
    }
  }
  // Regions first too: a bad one must not leave writes pending.
  std::vector<std::optional<Window>> regions;
  for (const PipelineState::Write& w : st.writes)
    regions.push_back(session.Region(*w.image.image.profile(), w.image.label));
  for (size_t i = 0; i < st.writes.size(); ++i) {
    const PipelineState::Write& w = st.writes[i];
    if (absl::Status s =
            session.AddOutput(w.image.image, w.path, regions[i], w.overwrite, w.cog || common.cog, w.options);
        !s.ok()) {
      throw UsageError(absl::StrCat("write ", w.path, ": ", s.message()));
    }
  }
  if (int code = session.Run(); code != kExitOk) return code;
  for (PrintResult& print : st.results) std::printf("%s\n", print().c_str());
  return kExitOk;
}

}  // namespace eoscale::cli
