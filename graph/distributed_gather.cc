// GatherSink (distributed_gather.h).
#include "eoscale/graph/distributed_gather.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace eoscale::internal {

GatherSink::GatherSink(std::string path, int output, Window offset, std::unique_ptr<RasterSink> whole,
                       TileChannel* channel)
    : path_(std::move(path)), output_(output), offset_(offset), whole_(std::move(whole)), channel_(channel) {}

absl::Status GatherSink::Write(const ConstView& src) {
  Window w = src.window();
  w.x += offset_.x;
  w.y += offset_.y;
  const ConstView v(src.data(), src.type(), src.bands(), w, src.row_stride(), src.band_stride());
  if (whole_ == nullptr) {
    if (channel_ == nullptr) return absl::InternalError(absl::StrCat("'", path_, "': no channel to rank 0"));
    return channel_->Send(output_, v);
  }
  return WriteReceived(v);
}

absl::Status GatherSink::WriteReceived(const ConstView& src) {
  std::lock_guard<std::mutex> lock(mu_);
  if (aborted_ || whole_ == nullptr) return absl::CancelledError(absl::StrCat("'", path_, "' was dropped"));
  return whole_->Write(src);
}

absl::Status GatherSink::Complete() {
  std::lock_guard<std::mutex> lock(mu_);
  if (whole_ == nullptr) return absl::OkStatus();
  if (aborted_) return absl::CancelledError(absl::StrCat("'", path_, "' was dropped"));
  return whole_->Finish();
}

absl::Status GatherSink::Commit() { return whole_ != nullptr ? whole_->Commit() : absl::OkStatus(); }

void GatherSink::Rollback() {
  if (whole_ != nullptr) whole_->Rollback();
}

void GatherSink::Cleanup() {
  if (whole_ != nullptr) whole_->Cleanup();
}

void GatherSink::Sync() {
  if (whole_ != nullptr) whole_->Sync();
}

void GatherSink::Abort() {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = true;
  if (whole_ != nullptr) whole_->Abort();
}

}  // namespace eoscale::internal
