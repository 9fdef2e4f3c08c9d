// A target grid given on the command line as gdalwarp gives it: `--te
// XMIN,YMIN,XMAX,YMAX --tr XRES[,YRES] [--t-srs CRS]` (calc, and the
// pipeline's read step), and the resampling method that goes with it.
#ifndef EOSCALE_CLI_GRID_OPTIONS_H_
#define EOSCALE_CLI_GRID_OPTIONS_H_

#include <optional>
#include <string>

#include "eoscale/core/profile.h"

namespace eoscale::cli {

struct GridOptions {
  std::optional<std::string> te, tr, t_srs;  // the options' values as typed
  bool any() const { return te || tr || t_srs; }
};

// The grid (io::GridFromExtent) of `g`, whose CRS is --t-srs or else
// `default_crs_wkt` (the first input's). UsageError, naming the option,
// when --te or --tr is missing or malformed, or the CRS is unknown.
Profile ResolveGrid(const GridOptions& g, const std::string& default_crs_wkt);

// The resampling method's name, checked (io::ParseResampling); UsageError
// naming `option` otherwise.
std::string CheckResampling(const std::string& option, const std::string& name);

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_GRID_OPTIONS_H_
