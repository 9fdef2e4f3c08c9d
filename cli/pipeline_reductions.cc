// The reduction steps of `eoscale pipeline` (stats, min-max, histogram):
// each prints one JSON line after the run.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "eoscale/filters/histogram.h"
#include "eoscale/filters/min_max.h"
#include "eoscale/filters/statistics.h"
#include "json.h"
#include "pipeline_steps.h"

namespace eoscale::cli {

void BuildReduction(int index, const std::string& name, const StepArgs& a, const PipelineImage& input,
                    PipelineState* st) {
  const std::string head =
      absl::StrCat("{\"step\": ", index, ", \"name\": ", JsonString(name), ", \"input\": ", JsonString(input.label));
  auto fail = [index, name](const absl::Status& s) {
    throw UsageError(absl::StrCat("step ", index, " (", name, "): ", s.message()));
  };
  if (name == "min-max") {
    auto r = st->ctx->Reduce<filters::MinMaxResult>(std::vector<Image>{input.image}, filters::MinMax());
    if (!r.ok()) fail(r.status());
    st->results.push_back([r = *r, head]() mutable {
      auto v = r.Get();
      if (!v.ok()) return head + ", \"error\": " + JsonString(v.status().ToString()) + "}";
      return absl::StrCat(head, ", \"min\": ", JsonNumber(v->min), ", \"max\": ", JsonNumber(v->max), "}");
    });
  } else if (name == "stats") {
    auto r =
        st->ctx->Reduce<std::vector<filters::BandStatistics>>(std::vector<Image>{input.image}, filters::Statistics());
    if (!r.ok()) fail(r.status());
    st->results.push_back([r = *r, head]() mutable {
      auto v = r.Get();
      if (!v.ok()) return head + ", \"error\": " + JsonString(v.status().ToString()) + "}";
      std::string s = head + ", \"bands\": [";
      for (size_t b = 0; b < v->size(); ++b) {
        const auto& x = (*v)[b];
        absl::StrAppend(&s, b ? ", " : "", "{\"band\": ", b + 1, ", \"count\": ", x.count,
                        ", \"min\": ", JsonNumber(x.min), ", \"max\": ", JsonNumber(x.max),
                        ", \"mean\": ", JsonNumber(x.mean), ", \"std\": ", JsonNumber(x.stddev), "}");
      }
      return s + "]}";
    });
  } else {
    auto bins = a.Get("--bins");
    auto range = a.Get("--range");
    if (!bins || !range) throw UsageError("step 'histogram' needs --bins N and --range MIN,MAX");
    const int n = static_cast<int>(ParseInteger("--bins", *bins, 1, 1000000));
    std::vector<std::string> mm = absl::StrSplit(*range, ',');
    if (mm.size() != 2) throw UsageError(absl::StrCat("--range takes MIN,MAX, got '", *range, "'"));
    const double lo = ParseNumber("--range", mm[0]), hi = ParseNumber("--range", mm[1]);
    if (!(lo < hi)) throw UsageError(absl::StrCat("--range needs MIN < MAX, got '", *range, "'"));
    auto r = st->ctx->Reduce<filters::HistogramCounts>(std::vector<Image>{input.image},
                                                       filters::Histogram(filters::UniformEdges(lo, hi, n)));
    if (!r.ok()) fail(r.status());
    st->results.push_back([r = *r, head, lo, hi]() mutable {
      auto v = r.Get();
      if (!v.ok()) return head + ", \"error\": " + JsonString(v.status().ToString()) + "}";
      std::string s =
          absl::StrCat(head, ", \"min\": ", JsonNumber(lo), ", \"max\": ", JsonNumber(hi), ", \"counts\": [");
      for (size_t b = 0; b < v->size(); ++b) absl::StrAppend(&s, b ? ", [" : "[", absl::StrJoin((*v)[b], ", "), "]");
      return s + "]}";
    });
  }
}

}  // namespace eoscale::cli
