#include "pipeline_steps.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "eoscale/filters/cast.h"
#include "eoscale/filters/concatenate.h"
#include "eoscale/filters/convolve.h"
#include "eoscale/filters/expression.h"
#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/generic_kernel.h"
#include "eoscale/filters/logical.h"
#include "eoscale/filters/nodata_mask.h"
#include "eoscale/filters/normalized_difference.h"
#include "eoscale/filters/threshold.h"
#include "eoscale/filters/uniform.h"
#include "formula.h"
#include "grid_options.h"

namespace eoscale::cli {

StepArgs::StepArgs(const std::string& step, const std::vector<std::string>& tokens, const std::set<std::string>& valued,
                   const std::set<std::string>& flags) {
  ArgReader r(tokens);
  while (!r.Done()) {
    const std::string a = r.Next();
    if (valued.count(a) != 0) {
      values_.emplace(a, r.Value(a));
    } else if (flags.count(a) != 0) {
      if (r.HasInlineValue()) throw UsageError(absl::StrCat("step '", step, "': ", a, " takes no value"));
      flags_.insert(a);
    } else if (LooksLikeOption(a)) {
      std::vector<std::string> known(valued.begin(), valued.end());
      known.insert(known.end(), flags.begin(), flags.end());
      throw UsageError(
          absl::StrCat("step '", step, "': unknown option ", a,
                       known.empty() ? " (it takes none)" : " (it takes " + absl::StrJoin(known, ", ") + ")"));
    } else {
      positional.push_back(a);
    }
  }
}

std::optional<std::string> StepArgs::Get(const std::string& option) const {
  auto [b, e] = values_.equal_range(option);
  if (b == e) return std::nullopt;
  if (std::next(b) != e) throw UsageError(absl::StrCat(option, " given twice"));
  return b->second;
}

std::vector<std::string> StepArgs::GetAll(const std::string& option) const {
  std::vector<std::string> out;
  auto [b, e] = values_.equal_range(option);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

const char kStepsHelp[] =
    "Steps (IN: input image names given by --as; without any, the previous step's output):\n"
    "  read FILE [--bands LIST] [--align-to NAME | --te BOX --tr RES] [--resampling METHOD]\n"
    "                                    open a raster (only the bands listed are read); with\n"
    "                                    --align-to, resampled onto image NAME's grid (size,\n"
    "                                    geotransform, CRS: reprojected if need be) with GDAL's\n"
    "                                    warper, window by window; METHOD: nearest (default),\n"
    "                                    bilinear, cubic, cubicspline, lanczos, average, mode,\n"
    "                                    min, max, med, q1, q3, sum, rms; or with --te XMIN,YMIN,\n"
    "                                    XMAX,YMAX --tr XRES[,YRES] [--t-srs CRS], onto that grid\n"
    "                                    (gdalwarp's -te -tr -t_srs; CRS: the file's by default)\n"
    "  write FILE [--input NAME] [--co KEY=VALUE]... [--overwrite] [--cog]\n"
    "                                    write the previous step's output (or image NAME); the\n"
    "                                    next step still sees the previous step's output\n"
    "  nodata-mask [IN]                  1 where a sample is nodata (or NaN), else 0 (Byte)\n"
    "  fill-nodata [IN [MASK]] [--max-distance D] [--smoothing-iterations N]\n"
    "                                    GDAL's FillNodata (default distance 100 pixels); MASK:\n"
    "                                    non-zero where to fill (default: IN's nodata)\n"
    "  uniform --size N [IN]             mean over an N x N box (scipy's uniform_filter)\n"
    "  convolve --kernel \"1,2,1;2,4,2;1,2,1\" [--border MODE] [--cval V] [--ot TYPE] [IN]\n"
    "                                    2-D convolution (scipy's convolve); rows split by ';'\n"
    "  kernel --radius R --op min|max|mean|sum [--border MODE] [--cval V] [--ot TYPE] [IN]\n"
    "                                    reduction over (2R+1)^2 windows (scipy's generic_filter)\n"
    "                                    MODE: reflect, mirror, nearest, wrap, constant\n"
    "  ndwi [IN...] [--green B] [--nir B] [--epsilon E]\n"
    "                                    (green - nir) / (green + nir), Float32 (bands 2 and 4)\n"
    "  ndvi [IN...] [--red B] [--nir B] [--epsilon E]   likewise (nir - red) / (nir + red) (3, 4)\n"
    "  normalized-difference --a B --b B [--epsilon E] [IN...]   (a - b) / (a + b)\n"
    "  threshold [IN] --gt V | --ge V | --lt V | --le V | --eq V | --ne V\n"
    "                                    1 where the comparison holds, else 0 (Byte)\n"
    "  and IN... | or IN... | not [IN]   logical operations on masks (Byte 0/1)\n"
    "  calc --calc FORMULA [--ot TYPE] [--nodata V] [IN...]\n"
    "                                    band math as in 'eoscale calc': NAME.bJ names band J of\n"
    "                                    image NAME; imIbJ band J of the I-th IN (or of the\n"
    "                                    previous step's output, im1)\n"
    "  cast --ot TYPE [IN]               convert (truncated toward zero, saturated)\n"
    "  concatenate IN... [--ot TYPE]     the bands of the inputs as one image\n"
    "  stats [IN]                        per band count, min, max, mean, std (exact)\n"
    "  min-max [IN]                      min and max over every band (EOScale's minmax)\n"
    "  histogram [IN] --bins N --range MIN,MAX   counts per band\n"
    "Every step takes --as NAME. Band numbers B are those of the file when the image comes from\n"
    "'read --bands' through steps that keep bands (nodata-mask, fill-nodata, uniform, convolve,\n"
    "kernel, threshold, not, cast): after 'read a.tif --bands 2,4', ndwi finds bands 2 and 4;\n"
    "else they are the image's own bands from 1. stats, min-max and histogram print one JSON\n"
    "line each on stdout after the run and pass their input on unchanged.\n";

namespace {

using Valued = std::set<std::string>;

// The inputs of a filter step: its positional names, or the previous output.
std::vector<PipelineImage> Inputs(const std::string& step, const std::vector<std::string>& names, PipelineState* st,
                                  size_t min_count = 1, size_t max_count = 64) {
  std::vector<PipelineImage> in;
  for (const std::string& n : names) {
    auto it = st->named.find(n);
    if (it == st->named.end()) {
      std::vector<std::string> known;
      for (const auto& [k, v] : st->named) known.push_back(k);
      throw UsageError(absl::StrCat(
          "step '", step, "': no image is named '", n, "'",
          known.empty() ? " (name one with --as NAME)" : " (names so far: " + absl::StrJoin(known, ", ") + ")"));
    }
    in.push_back(it->second);
  }
  if (in.empty() && st->current) in.push_back(*st->current);
  if (in.empty()) throw UsageError(absl::StrCat("step '", step, "' has no input: start the pipeline with 'read FILE'"));
  if (in.size() < min_count || in.size() > max_count) {
    throw UsageError(absl::StrCat("step '", step, "' takes ", min_count == max_count ? "" : "from ", min_count,
                                  min_count == max_count ? "" : absl::StrCat(" to ", max_count), " input",
                                  max_count > 1 ? "s" : "", ", got ", in.size()));
  }
  return in;
}

std::vector<Image> Images(const std::vector<PipelineImage>& in) {
  std::vector<Image> out;
  for (const PipelineImage& p : in) out.push_back(p.image);
  return out;
}

// A band number given to a step, as a position in the image it reads.
int ImageBand(const std::string& step, const std::string& option, int band, const std::vector<PipelineImage>& in) {
  if (in.size() != 1 || in[0].file_bands.empty()) return band;
  const auto& fb = in[0].file_bands;
  const auto it = std::find(fb.begin(), fb.end(), band);
  if (it == fb.end()) {
    throw UsageError(absl::StrCat("step '", step, "': ", option, " ", band, " names a band that was not read (",
                                  in[0].label, " holds bands ", absl::StrJoin(fb, ","), " of its file)"));
  }
  return static_cast<int>(it - fb.begin()) + 1;
}

filters::BorderMode Border(const std::string& v) {
  for (auto m : {filters::BorderMode::kReflect, filters::BorderMode::kMirror, filters::BorderMode::kNearest,
                 filters::BorderMode::kWrap, filters::BorderMode::kConstant}) {
    if (v == filters::BorderModeName(m)) return m;
  }
  throw UsageError(absl::StrCat("--border takes reflect, mirror, nearest, wrap or constant, got '", v, "'"));
}

// `file_bands`: the output's bands are those of the file (a step that keeps
// the bands of its single input).
void Output(const std::string& step, int index, absl::StatusOr<std::vector<Image>> out, PipelineState* st,
            std::vector<int> file_bands = {}) {
  if (!out.ok()) {
    const char* hint = step == "ndwi"   ? " (ndwi reads --green 2 and --nir 4 by default)"
                       : step == "ndvi" ? " (ndvi reads --nir 4 and --red 3 by default)"
                                        : "";
    throw UsageError(absl::StrCat("step ", index, " (", step, "): ", out.status().message(), hint));
  }
  st->current = PipelineImage{(*out)[0], std::move(file_bands), absl::StrCat("step ", index, " (", step, ")")};
}

// Steps whose output has the bands of their (first) input, band for band.
bool KeepsBands(const std::string& step) {
  for (const char* s : {"nodata-mask", "not", "fill-nodata", "uniform", "convolve", "kernel", "threshold", "cast"}) {
    if (step == s) return true;
  }
  return false;
}

}  // namespace

void BuildStep(int index, const std::string& name, const std::vector<std::string>& tokens, PipelineState* st) {
  Valued valued = {"--as"};
  Valued flags;
  Context* ctx = st->ctx;
  auto map = [&](const std::vector<PipelineImage>& in, absl::StatusOr<MapFilter> f) {
    if (!f.ok()) throw UsageError(absl::StrCat("step ", index, " (", name, "): ", f.status().message()));
    Output(name, index, ctx->Map(Images(in), *std::move(f)), st,
           KeepsBands(name) ? in[0].file_bands : std::vector<int>{});
  };
  std::optional<StepArgs> args;
  auto parse = [&](Valued more_valued, Valued more_flags = {}) {
    more_valued.insert(valued.begin(), valued.end());
    args.emplace(name, tokens, more_valued, more_flags);
    return &*args;
  };
  if (name == "read") {
    StepArgs* a = parse({"--bands", "-b", "--align-to", "--resampling", "--te", "--tr", "--t-srs"});
    if (a->positional.size() != 1) throw UsageError("step 'read' takes one FILE");
    std::vector<int> bands;
    if (auto b = a->Get("--bands")) bands = ParseBandList("--bands", *b);
    if (auto b = a->Get("-b")) bands = ParseBandList("-b", *b);
    absl::StatusOr<Image> img;
    const GridOptions grid{a->Get("--te"), a->Get("--tr"), a->Get("--t-srs")};
    const std::string method = CheckResampling("step 'read': --resampling", a->Get("--resampling").value_or("nearest"));
    if (auto ref = a->Get("--align-to")) {
      // Onto the grid of an image named before, through GDAL's warper.
      if (grid.any()) throw UsageError("step 'read': --align-to and --te/--tr are exclusive");
      const PipelineImage onto = Inputs(name, {*ref}, st, 1, 1)[0];
      img = ctx->Open(a->positional[0],
                      OpenOptions{.bands = bands, .align_to = *onto.image.profile(), .resampling = method});
    } else if (grid.any()) {
      // Onto a grid given by extent and resolution (CRS: --t-srs, else the file's).
      absl::StatusOr<Image> own = ctx->Open(a->positional[0], bands);
      if (!own.ok()) throw UsageError(absl::StrCat("step ", index, " (read): ", own.status().message()));
      const Profile target = ResolveGrid(grid, own->profile()->crs_wkt);
      if (absl::Status s = ctx->Release(*own); !s.ok()) throw UsageError(s.ToString());
      img = ctx->Open(a->positional[0], OpenOptions{.bands = bands, .align_to = target, .resampling = method});
    } else {
      if (a->Get("--resampling")) throw UsageError("step 'read': --resampling needs --align-to NAME or --te/--tr");
      img = ctx->Open(a->positional[0], bands);
    }
    if (!img.ok()) throw UsageError(absl::StrCat("step ", index, " (read): ", img.status().message()));
    st->current = PipelineImage{*img, bands, a->positional[0]};
  } else if (name == "write") {
    StepArgs* a = parse({"--input", "-i", "--co"}, {"--overwrite", "--cog"});
    if (a->positional.size() != 1) throw UsageError("step 'write' takes one FILE");
    std::vector<std::string> in;
    if (auto i = a->Get("--input")) in.push_back(*i);
    if (auto i = a->Get("-i")) in.push_back(*i);
    PipelineState::Write w{
        Inputs(name, in, st, 1, 1)[0], a->positional[0], {}, a->Flag("--overwrite"), a->Flag("--cog")};
    for (const std::string& kv : a->GetAll("--co")) w.options.push_back(ParseKeyValue("--co", kv));
    st->writes.push_back(std::move(w));
    if (a->Get("--as")) throw UsageError("step 'write' takes no --as (it passes its input on unchanged)");
    return;
  } else if (name == "nodata-mask" || name == "not") {
    StepArgs* a = parse({});
    map(Inputs(name, a->positional, st, 1, 1), name == "not" ? filters::LogicalNot() : filters::NodataMask());
  } else if (name == "and" || name == "or") {
    StepArgs* a = parse({});
    map(Inputs(name, a->positional, st, 1), name == "and" ? filters::LogicalAnd() : filters::LogicalOr());
  } else if (name == "fill-nodata") {
    StepArgs* a = parse({"--max-distance", "--smoothing-iterations"});
    filters::FillNodataOptions o;
    if (auto v = a->Get("--max-distance")) o.max_search_distance = ParseNumber("--max-distance", *v);
    if (!(o.max_search_distance > 0)) throw UsageError("step 'fill-nodata': --max-distance must be > 0");
    if (auto v = a->Get("--smoothing-iterations")) {
      o.smoothing_iterations = static_cast<int>(ParseInteger("--smoothing-iterations", *v, 0, 1000));
    }
    map(Inputs(name, a->positional, st, 1, 2), filters::FillNodata(o));
  } else if (name == "uniform") {
    StepArgs* a = parse({"--size"});
    auto v = a->Get("--size");
    if (!v) throw UsageError("step 'uniform' needs --size N");
    map(Inputs(name, a->positional, st, 1, 1),
        filters::Uniform(static_cast<int>(ParseInteger("--size", *v, 1, 10001))));
  } else if (name == "convolve") {
    StepArgs* a = parse({"--kernel", "--border", "--cval", "--ot"});
    auto k = a->Get("--kernel");
    if (!k) throw UsageError("step 'convolve' needs --kernel \"w,w,w;w,w,w;...\"");
    std::vector<double> weights;
    int rows = 0, cols = -1;
    for (absl::string_view row : absl::StrSplit(*k, ';')) {
      int n = 0;
      for (absl::string_view w : absl::StrSplit(row, ',')) {
        weights.push_back(ParseNumber("--kernel", std::string(w)));
        ++n;
      }
      if (cols >= 0 && n != cols) throw UsageError(absl::StrCat("--kernel: rows of different lengths in '", *k, "'"));
      cols = n;
      ++rows;
    }
    filters::ConvolveOptions o;
    if (auto v = a->Get("--border")) o.mode = Border(*v);
    if (auto v = a->Get("--cval")) o.cval = ParseNumber("--cval", *v);
    if (auto v = a->Get("--ot")) o.output_type = ParseOutputType("--ot", *v);
    map(Inputs(name, a->positional, st, 1, 1), filters::Convolve(weights, rows, cols, o));
  } else if (name == "kernel") {
    StepArgs* a = parse({"--radius", "--op", "--border", "--cval", "--ot"});
    auto r = a->Get("--radius");
    auto op = a->Get("--op");
    if (!r || !op) throw UsageError("step 'kernel' needs --radius R and --op min|max|mean|sum");
    filters::KernelReduction reduce;
    if (*op == "min")
      reduce = filters::kernel::Min();
    else if (*op == "max")
      reduce = filters::kernel::Max();
    else if (*op == "mean")
      reduce = filters::kernel::Mean();
    else if (*op == "sum")
      reduce = filters::kernel::Sum();
    else
      throw UsageError(absl::StrCat("--op takes min, max, mean or sum, got '", *op, "'"));
    filters::GenericKernelOptions o;
    if (auto v = a->Get("--border")) o.mode = Border(*v);
    if (auto v = a->Get("--cval")) o.cval = ParseNumber("--cval", *v);
    if (auto v = a->Get("--ot")) o.output_type = ParseOutputType("--ot", *v);
    map(Inputs(name, a->positional, st, 1, 1),
        filters::GenericKernel(static_cast<int>(ParseInteger("--radius", *r, 0, 10000)), reduce, o));
  } else if (name == "ndwi" || name == "ndvi" || name == "normalized-difference") {
    const bool ndwi = name == "ndwi", ndvi = name == "ndvi";
    const std::string oa = ndwi ? "--green" : ndvi ? "--nir" : "--a";
    const std::string ob = ndwi ? "--nir" : ndvi ? "--red" : "--b";
    StepArgs* a = parse({oa, ob, "--epsilon"});
    const std::vector<PipelineImage> in = Inputs(name, a->positional, st);
    auto band = [&](const std::string& option, int fallback) {
      auto v = a->Get(option);
      if (!v && fallback == 0) throw UsageError(absl::StrCat("step '", name, "' needs ", option, " B"));
      return ImageBand(name, option, v ? static_cast<int>(ParseInteger(option, *v, 1, 65535)) : fallback, in);
    };
    const int ba = band(oa, ndwi ? 2 : ndvi ? 4 : 0), bb = band(ob, ndwi ? 4 : ndvi ? 3 : 0);
    float eps = 0.0f;
    if (auto v = a->Get("--epsilon")) eps = static_cast<float>(ParseNumber("--epsilon", *v));
    map(in, filters::NormalizedDifference(ba, bb, eps));
  } else if (name == "threshold") {
    StepArgs* a = parse({"--gt", "--ge", "--lt", "--le", "--eq", "--ne"});
    const std::pair<const char*, filters::CompareOp> ops[] = {
        {"--gt", filters::CompareOp::kGreater}, {"--ge", filters::CompareOp::kGreaterEqual},
        {"--lt", filters::CompareOp::kLess},    {"--le", filters::CompareOp::kLessEqual},
        {"--eq", filters::CompareOp::kEqual},   {"--ne", filters::CompareOp::kNotEqual}};
    std::optional<std::pair<double, filters::CompareOp>> t;
    for (const auto& [opt, op] : ops) {
      if (auto v = a->Get(opt)) {
        if (t) throw UsageError("step 'threshold' takes one comparison");
        t = {ParseNumber(opt, *v), op};
      }
    }
    if (!t) throw UsageError("step 'threshold' needs one of --gt, --ge, --lt, --le, --eq, --ne V");
    map(Inputs(name, a->positional, st, 1, 1), filters::Threshold(t->first, t->second));
  } else if (name == "calc") {
    StepArgs* a = parse({"--calc", "-e", "--ot", "--nodata"});
    std::optional<std::string> formula = a->Get("--calc");
    if (!formula) formula = a->Get("-e");
    if (!formula) throw UsageError("step 'calc' needs --calc FORMULA");
    std::vector<PipelineImage> in;
    std::vector<std::string> listed = a->positional;
    std::vector<std::string> names;
    for (const auto& [k, v] : st->named) names.push_back(k);
    const Formula f = TranslateFormula(
        *formula,
        [&](const std::string& n) {
          if (st->named.count(n) == 0) return 0;
          auto it = std::find(listed.begin(), listed.end(), n);
          if (it == listed.end()) it = listed.insert(listed.end(), n);
          return static_cast<int>(it - listed.begin()) + 1;
        },
        names.empty() ? "the images named so far (none: name one with --as)"
                      : "the images named so far (" + absl::StrJoin(names, ", ") + ")");
    in = Inputs(name, listed, st);
    filters::ExpressionOptions o;
    o.name = "calc";
    for (const PipelineImage& p : in) o.input_bands.push_back(p.file_bands);
    if (auto v = a->Get("--nodata")) o.nodata = ParseNumber("--nodata", *v);
    PixelType type = PixelType::kF32;
    if (auto v = a->Get("--ot")) type = ParseOutputType("--ot", *v);
    absl::StatusOr<MapFilter> filter = filters::Expression(f.translated, type, o);
    if (!filter.ok()) throw UsageError(MapFormulaError(std::string(filter.status().message()), f));
    absl::StatusOr<std::vector<Image>> out = ctx->Map(Images(in), *std::move(filter));
    if (!out.ok()) out = absl::InvalidArgumentError(MapFormulaError(std::string(out.status().message()), f));
    Output(name, index, out, st);
  } else if (name == "cast") {
    StepArgs* a = parse({"--ot"});
    auto v = a->Get("--ot");
    if (!v) throw UsageError("step 'cast' needs --ot TYPE");
    map(Inputs(name, a->positional, st, 1, 1), filters::Cast(ParseOutputType("--ot", *v)));
  } else if (name == "concatenate") {
    StepArgs* a = parse({"--ot"});
    const std::vector<PipelineImage> in = Inputs(name, a->positional, st);
    PixelType type = in[0].image.profile()->type;
    if (auto v = a->Get("--ot")) type = ParseOutputType("--ot", *v);
    map(in, filters::Concatenate(type));
  } else if (name == "stats" || name == "min-max" || name == "histogram") {
    StepArgs* a = parse({"--bins", "--range"});
    if (a->Get("--as")) throw UsageError(absl::StrCat("step '", name, "' takes no --as (it passes its input on)"));
    const std::vector<PipelineImage> in = Inputs(name, a->positional, st, 1, 1);
    BuildReduction(index, name, *a, in[0], st);
    st->current = in[0];
    return;
  } else {
    throw UsageError(absl::StrCat("step ", index, ": unknown step '", name, "' (see eoscale pipeline --help)"));
  }
  if (auto as = args->Get("--as")) {
    if (!ValidInputName(*as)) {
      throw UsageError(absl::StrCat("--as ", *as, ": a name is letters, digits and _, not starting with a digit, ",
                                    "and not a function or constant of calc"));
    }
    if (st->named.count(*as) != 0) throw UsageError(absl::StrCat("--as ", *as, ": the name is already taken"));
    st->current->label = *as;
    st->named[*as] = *st->current;
  }
}

}  // namespace eoscale::cli
