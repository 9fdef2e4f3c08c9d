#include "grid_options.h"

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "args.h"
#include "eoscale/io/aligned_source.h"

namespace eoscale::cli {

Profile ResolveGrid(const GridOptions& g, const std::string& default_crs_wkt) {
  if (!g.te || !g.tr) throw UsageError("--te and --tr go together (the grid's extent and resolution)");
  const std::array<double, 4> te = ParseBox("--te", *g.te);
  const std::vector<std::string> tr = absl::StrSplit(*g.tr, ',');
  if (tr.size() > 2) throw UsageError(absl::StrCat("--tr takes XRES or XRES,YRES, got '", *g.tr, "'"));
  const double xres = ParseNumber("--tr", tr[0]);
  const double yres = tr.size() == 2 ? ParseNumber("--tr", tr[1]) : xres;
  if (!g.t_srs && default_crs_wkt.empty()) throw UsageError("--te/--tr: the first input has no CRS; give --t-srs");
  absl::StatusOr<Profile> grid =
      io::GridFromExtent(te[0], te[1], te[2], te[3], xres, yres, g.t_srs.value_or(default_crs_wkt));
  if (!grid.ok()) {
    throw UsageError(
        absl::StrCat(g.t_srs && grid.status().message().find("CRS") != std::string::npos ? "--t-srs" : "--te/--tr",
                     ": ", grid.status().message()));
  }
  return *grid;
}

std::string CheckResampling(const std::string& option, const std::string& name) {
  absl::StatusOr<int> m = io::ParseResampling(name);
  if (!m.ok()) throw UsageError(absl::StrCat(option, ": ", m.status().message()));
  return name;
}

}  // namespace eoscale::cli
