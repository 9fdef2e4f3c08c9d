// The steps of `eoscale pipeline`: how each builds its part of the graph.
#ifndef EOSCALE_CLI_PIPELINE_STEPS_H_
#define EOSCALE_CLI_PIPELINE_STEPS_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "eoscale/graph/context.h"
#include "session.h"

namespace eoscale::cli {

// An image of the pipeline.
struct PipelineImage {
  Image image;
  // The file bands it holds when it comes straight from `read --bands`
  // (band numbers given to later steps are those of the file); empty
  // otherwise (its own bands, from 1).
  std::vector<int> file_bands;
  std::string label;  // "step 2 (ndwi)", or the name given by --as
};

// The arguments of one step: positional ones (input names, a file) and
// options, checked against what the step takes.
class StepArgs {
 public:
  // Throws UsageError naming `step` for an unknown option or a missing value.
  StepArgs(const std::string& step, const std::vector<std::string>& tokens, const std::set<std::string>& valued,
           const std::set<std::string>& flags);
  std::vector<std::string> positional;
  std::optional<std::string> Get(const std::string& option) const;
  std::vector<std::string> GetAll(const std::string& option) const;
  bool Flag(const std::string& option) const { return flags_.count(option) != 0; }

 private:
  std::multimap<std::string, std::string> values_;
  std::set<std::string> flags_;
};

// A reduction step's result, printed as one JSON line after the run.
using PrintResult = std::function<std::string()>;

// What the steps build into.
struct PipelineState {
  Session* session = nullptr;
  Context* ctx = nullptr;
  std::map<std::string, PipelineImage> named;
  std::optional<PipelineImage> current;  // the previous step's output
  std::vector<PrintResult> results;
  // Writes are added once the whole graph is built (so that a bad step
  // never leaves writes pending).
  struct Write {
    PipelineImage image;
    std::string path;
    std::vector<std::string> options;
    bool overwrite = false;
    bool cog = false;
  };
  std::vector<Write> writes;
};

// Builds step `name` (tokens: what follows the name up to the next '!').
// `index` counts steps from 1. Throws UsageError.
void BuildStep(int index, const std::string& name, const std::vector<std::string>& tokens, PipelineState* state);

// stats, min-max or histogram over `input` (pipeline_reductions.cc).
void BuildReduction(int index, const std::string& name, const StepArgs& a, const PipelineImage& input,
                    PipelineState* st);

// The list of steps and their options, for --help.
extern const char kStepsHelp[];

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_PIPELINE_STEPS_H_
