#include "eoscale/graph/memory_sources.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace eoscale::internal {
namespace {

class ConstantSource final : public RasterSource {
 public:
  ConstantSource(Profile p, double value)
      : profile_(std::move(p)), value_(value), name_(absl::StrCat("constant ", value)) {}
  const Profile& profile() const override { return profile_; }
  int block_width() const override { return 256; }
  int block_height() const override { return 256; }
  absl::Status Read(const View& dst) override {
    DispatchPixelType(profile_.type, [&]<typename T>() { dst.As<T>().Fill(static_cast<T>(value_)); });
    return absl::OkStatus();
  }
  const std::string& description() const override { return name_; }

 private:
  Profile profile_;
  double value_;
  std::string name_;
};

class WrappedSource final : public RasterSource {
 public:
  WrappedSource(Profile p, const void* data, std::string name)
      : profile_(std::move(p)), data_(data), name_(std::move(name)) {}
  const Profile& profile() const override { return profile_; }
  int block_width() const override { return 256; }
  int block_height() const override { return 256; }
  absl::Status Read(const View& dst) override {
    const ConstView whole =
        ConstView::Contiguous(data_, profile_.type, profile_.bands, {0, 0, profile_.width, profile_.height});
    CopyPixels(whole.Sub(dst.window()), dst);
    return absl::OkStatus();
  }
  const std::string& description() const override { return name_; }

 private:
  Profile profile_;
  const void* data_;
  std::string name_;
};

}  // namespace

std::shared_ptr<RasterSource> MakeConstantSource(const Profile& profile, double value) {
  return std::make_shared<ConstantSource>(profile, value);
}

std::shared_ptr<RasterSource> MakeWrappedSource(const Profile& profile, const void* data, std::string name) {
  return std::make_shared<WrappedSource>(profile, data, std::move(name));
}

ArraySource::ArraySource(Array array)
    : profile_(array.profile()), array_(std::make_unique<Array>(std::move(array))) {}

absl::Status ArraySource::Read(const View& dst) {
  if (!array_) return absl::FailedPreconditionError("the array was released and its pixels freed");
  CopyPixels(array_->view().Sub(dst.window()), dst);
  return absl::OkStatus();
}

}  // namespace eoscale::internal
