// A window of another raster source, as a source of its own (its pixel
// (0, 0) is the window's corner, georeferenced there). `eoscale stats
// --window/--bbox` reads through it: the statistics of a window are those
// of the window's pixels, with no margin involved.
#ifndef EOSCALE_CLI_CROP_SOURCE_H_
#define EOSCALE_CLI_CROP_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "eoscale/core/raster_io.h"

namespace eoscale::cli {

class CropSource : public RasterSource {
 public:
  // REQUIRES: `window` inside base's image. Thread-safe as `base` is.
  CropSource(std::shared_ptr<RasterSource> base, const Window& window);
  const Profile& profile() const override { return profile_; }
  int block_width() const override { return base_->block_width(); }
  int block_height() const override { return base_->block_height(); }
  std::vector<int> column_seams() const override;
  std::vector<int> row_seams() const override;
  bool decodes_whole_blocks() const override { return base_->decodes_whole_blocks(); }
  absl::Status Read(const View& dst) override;
  const std::string& description() const override { return base_->description(); }
  std::vector<std::string> files() const override { return base_->files(); }
  absl::Status CheckUnchanged() override { return base_->CheckUnchanged(); }

 private:
  std::shared_ptr<RasterSource> base_;
  Window window_;
  Profile profile_;
};

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_CROP_SOURCE_H_
