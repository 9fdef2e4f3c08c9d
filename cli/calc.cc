// eoscale calc: band math over named inputs.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "args.h"
#include "commands.h"
#include "eoscale/filters/expression.h"
#include "formula.h"
#include "grid_options.h"
#include "session.h"

namespace eoscale::cli {

namespace {

const char kCalcHelp[] =
    "usage: eoscale calc -i [NAME=]FILE [-i ...] --calc FORMULA -o OUTPUT [--ot TYPE] [--nodata V]\n"
    "                    [common options]\n"
    "\n"
    "Band math, tile by tile. Each -i adds an input; the inputs must share one grid (size,\n"
    "geotransform, CRS). In FORMULA, band J of an input is NAME.bJ (GDAL style, NAME given\n"
    "as -i NAME=FILE; a bare NAME is its band 1) or imIbJ (Orfeo ToolBox's BandMath style:\n"
    "band J of the I-th -i, named or not). Only the bands the formula names are read.\n"
    "Arithmetic is in double precision; comparisons and logical operators give 1 or 0.\n"
    "Operators: + - * / ^, < > <= >= == !=, && || (and, or), ?: ; functions: abs sqrt exp\n"
    "log ln log2 log10 sin cos tan asin acos atan sinh cosh tanh sign rint atan2 pow ndvi\n"
    "min max sum avg; variables idxX idxY (pixel column, row); constants pi e.\n"
    "(docs/expression.md has the full grammar.)\n"
    "\n"
    "  -i, --input [NAME=]FILE  an input (NAME: letters, digits, _; not a function's name)\n"
    "  --calc, -e FORMULA       the formula\n"
    "  -o, --output FILE        the output (one band)\n"
    "  --ot TYPE                output type: Byte, Int8, UInt16, Int16, UInt32, Int32, Float32\n"
    "                           (default), Float64; values are truncated toward zero and\n"
    "                           saturated when converted to an integer type, NaN gives 0\n"
    "  --nodata V               the output's nodata value (none by default)\n"
    "  -r, --resampling METHOD  read inputs on another grid (resolution, extent, CRS) onto the\n"
    "                           first input's, with GDAL's warper: nearest, bilinear, cubic,\n"
    "                           cubicspline, lanczos, average, mode, min, max, med, q1, q3, sum,\n"
    "                           rms (pixels equal gdalwarp -et 0 to that grid); without it,\n"
    "                           inputs must share one grid\n"
    "  --te XMIN,YMIN,XMAX,YMAX, --tr XRES[,YRES], --t-srs CRS\n"
    "                           read every input onto this grid instead (gdalwarp's -te, -tr,\n"
    "                           -t_srs; CRS: EPSG:N, WKT, PROJ; default the first input's), with\n"
    "                           --resampling's method (default nearest)\n"
    "\n"
    "Examples:\n"
    "  eoscale calc -i A=date1.tif --calc \"(A.b2 - A.b4) / (A.b2 + A.b4)\" -o ndwi.tif\n"
    "  eoscale calc -i d1.tif -i d2.tif --ot Byte -o water.tif \\\n"
    "      --calc \"(im1b2 - im1b4) / (im1b2 + im1b4) > 0 && (im2b2 - im2b4) / (im2b2 + im2b4) > 0\"\n"
    "  eoscale calc -i A=a.tif --calc \"A * 2\" --bbox 570000,4830000,571000,4831000 -o crop.tif --cog\n"
    "  # MNDWI from a 10 m green band and a 20 m SWIR band, on the 10 m grid (reflectances)\n"
    "  eoscale calc -i G=B03_10m.jp2 -i S=B11_20m.jp2 -r bilinear --calc \"(G - S) / (G + S)\" -o mndwi.tif\n"
    "  # Sentinel-2 L2A (baseline 04.00 on) stores reflectance x 10000 + 1000: remove the offset;\n"
    "  # a 2-date MNDWI water mask (MNDWI > 0 on both dates), B11 read at 10 m, as a COG\n"
    "  eoscale calc -r bilinear --ot Byte --cog -o water.tif \\\n"
    "      -i G1=T30TXN_20230605T105619_B03_10m.jp2 -i S1=T30TXN_20230605T105619_B11_20m.jp2 \\\n"
    "      -i G2=T30TXN_20230615T105619_B03_10m.jp2 -i S2=T30TXN_20230615T105619_B11_20m.jp2 \\\n"
    "      --calc \"(G1 - S1) / (G1 + S1 - 2000) > 0 && (G2 - S2) / (G2 + S2 - 2000) > 0\"\n"
    "\n";

struct CalcInput {
  std::string name;  // may be empty
  std::string path;
};

}  // namespace

int CalcCommand(const std::vector<std::string>& args) {
  CommonOptions common;
  std::vector<CalcInput> inputs;
  std::string formula, output;
  bool have_formula = false;
  PixelType type = PixelType::kF32;
  std::optional<double> nodata;
  std::optional<std::string> resampling;
  GridOptions grid;
  ArgReader r(args);
  while (!r.Done()) {
    const std::string a = r.Next();
    if (a == "-h" || a == "--help") {
      std::printf("%s%s", kCalcHelp, CommonOptionsHelp(true).c_str());
      return kExitOk;
    } else if (a == "-i" || a == "--input") {
      const std::string v = r.Value(a);
      CalcInput in;
      const size_t eq = v.find('=');
      const std::string prefix = eq == std::string::npos ? "" : v.substr(0, eq);
      if (!prefix.empty() && ValidInputName(prefix)) {
        in.name = prefix;
        in.path = v.substr(eq + 1);
      } else if (!prefix.empty() && prefix.find_first_of("/.") == std::string::npos) {
        throw UsageError(absl::StrCat(a, " ", v, ": '", prefix,
                                      "' cannot name an input (letters, digits and _, not starting with a digit, ",
                                      "and not a function, a constant or imIbJ)"));
      } else {
        in.path = v;
      }
      if (in.path.empty()) throw UsageError(absl::StrCat(a, " ", v, ": no file name"));
      for (const CalcInput& o : inputs) {
        if (!in.name.empty() && o.name == in.name)
          throw UsageError(absl::StrCat("input name '", in.name, "' given twice"));
      }
      inputs.push_back(in);
    } else if (a == "--calc" || a == "-e" || a == "--expression") {
      formula = r.Value(a);
      have_formula = true;
    } else if (a == "-o" || a == "--output") {
      output = r.Value(a);
    } else if (a == "--ot") {
      type = ParseOutputType(a, r.Value(a));
    } else if (a == "--resampling" || a == "-r") {
      resampling = CheckResampling(a, r.Value(a));
    } else if (a == "--te") {
      grid.te = r.Value(a);
    } else if (a == "--tr") {
      grid.tr = r.Value(a);
    } else if (a == "--t-srs") {
      grid.t_srs = r.Value(a);
    } else if (a == "--nodata") {
      nodata = ParseNumber(a, r.Value(a));
    } else if (ParseCommonOption(a, r, /*writes=*/true, &common)) {
    } else if (LooksLikeOption(a)) {
      throw UsageError(absl::StrCat("unknown option ", a, " (see eoscale calc --help)"));
    } else {
      throw UsageError(absl::StrCat("unexpected argument '", a, "' (inputs are given with -i, the output with -o)"));
    }
  }
  if (inputs.empty()) throw UsageError("no input: give one or more -i [NAME=]FILE");
  if (!have_formula) throw UsageError("no formula: give --calc FORMULA");
  if (output.empty()) throw UsageError("no output: give -o FILE");

  std::vector<std::string> names;
  for (const CalcInput& in : inputs) {
    if (!in.name.empty()) names.push_back(in.name);
  }
  const std::string known = names.empty() ? "the inputs (none is named: use -i NAME=FILE)"
                                          : absl::StrCat("the inputs' names (", absl::StrJoin(names, ", "), ")");
  const Formula f = TranslateFormula(
      formula,
      [&](const std::string& n) {
        for (size_t i = 0; i < inputs.size(); ++i) {
          if (inputs[i].name == n) return static_cast<int>(i + 1);
        }
        return 0;
      },
      known);
  absl::StatusOr<std::vector<std::vector<int>>> bands = filters::ExpressionBands(f.translated);
  if (!bands.ok()) throw UsageError(MapFormulaError(std::string(bands.status().message()), f));
  if (bands->size() > inputs.size()) {
    throw UsageError(absl::StrCat("formula '", formula, "' names input im", bands->size(), ", but there ",
                                  inputs.size() == 1 ? "is 1 input" : absl::StrCat("are ", inputs.size(), " inputs")));
  }
  bands->resize(inputs.size());
  // An input the formula never names still fixes the grid: read its band 1.
  for (std::vector<int>& b : *bands) {
    if (b.empty()) b = {1};
  }

  Session session("calc", common);
  absl::StatusOr<Context*> ctx = session.context();
  if (!ctx.ok()) throw UsageError(ctx.status().ToString());
  std::vector<Image> images;
  std::optional<Profile> target;  // --te/--tr: every input is read onto it
  for (size_t i = 0; i < inputs.size(); ++i) {
    absl::StatusOr<Image> img = (*ctx)->Open(inputs[i].path, (*bands)[i]);
    if (!img.ok()) throw UsageError(std::string(img.status().message()));
    if (i == 0 && grid.any()) target = ResolveGrid(grid, img->profile()->crs_wkt);
    if (i > 0 && !target && !resampling && !img->profile()->SameGrid(*images[0].profile())) {
      std::string diff = DescribeGridDifference(*images[0].profile(), *img->profile());
      throw UsageError(absl::StrCat("input ", i + 1, " (", inputs[i].path, ") is not on the grid of input 1 (",
                                    inputs[0].path, "): ", diff,
                                    "; add --resampling METHOD to read it onto input 1's grid"));
    }
    // With --te/--tr, every input is read onto that grid; with --resampling
    // alone, an input on another grid is read onto the first's.
    std::optional<Profile> onto = target;
    if (!onto && i > 0 && resampling) onto = *images[0].profile();
    if (onto && !img->profile()->SameGrid(*onto)) {
      if (absl::Status s = (*ctx)->Release(*img); !s.ok()) throw UsageError(s.ToString());
      img = (*ctx)->Open(
          inputs[i].path,
          OpenOptions{.bands = (*bands)[i], .align_to = onto, .resampling = resampling.value_or("nearest")});
      if (!img.ok()) throw UsageError(std::string(img.status().message()));
    }
    images.push_back(*img);
  }
  filters::ExpressionOptions eo;
  eo.name = "calc";
  eo.input_bands = *bands;
  eo.nodata = nodata;
  absl::StatusOr<MapFilter> filter = filters::Expression(f.translated, type, eo);
  if (!filter.ok()) throw UsageError(MapFormulaError(std::string(filter.status().message()), f));
  absl::StatusOr<std::vector<Image>> out = (*ctx)->Map(images, *std::move(filter));
  if (!out.ok()) throw UsageError(MapFormulaError(std::string(out.status().message()), f));
  const Profile first = *images[0].profile();
  const std::optional<Window> region = session.Region(first, inputs[0].path);
  if (absl::Status s = session.AddOutput((*out)[0], output, region, false, common.cog); !s.ok()) {
    throw UsageError(std::string(s.message()));
  }
  return session.Run();
}

}  // namespace eoscale::cli
