// Internal to io/: what the GDAL source and sink share (scoped error
// capture, pixel type mapping, path helpers). Not installed.
#ifndef EOSCALE_IO_GDAL_UTIL_H_
#define EOSCALE_IO_GDAL_UTIL_H_

#include <string>

#include "absl/status/statusor.h"
#include "cpl_error.h"
#include "eoscale/core/pixel_type.h"
#include "gdal.h"

namespace eoscale::io::internal {

// Collects GDAL's errors for the duration of one call on this thread
// (GDAL's handler stack is per thread). Never reads a global "last error".
class ScopedGdalErrors {
 public:
  ScopedGdalErrors() { CPLPushErrorHandlerEx(&Handler, this); }
  ~ScopedGdalErrors() { CPLPopErrorHandler(); }
  ScopedGdalErrors(const ScopedGdalErrors&) = delete;
  ScopedGdalErrors& operator=(const ScopedGdalErrors&) = delete;

  bool failed() const { return failed_; }
  std::string message() const { return message_.empty() ? "unknown GDAL error" : message_; }

 private:
  static void CPL_STDCALL Handler(CPLErr level, CPLErrorNum, const char* msg) {
    auto* self = static_cast<ScopedGdalErrors*>(CPLGetErrorHandlerUserData());
    if (level >= CE_Failure) {
      self->failed_ = true;
      if (!self->message_.empty()) self->message_ += "; ";
      self->message_ += msg;
    }
  }
  bool failed_ = false;
  std::string message_;
};

absl::StatusOr<PixelType> FromGdal(GDALDataType t, bool signed_byte);
GDALDataType ToGdal(PixelType t);
// The folder of `path` ("." when it has none).
std::string Dirname(const std::string& path);

}  // namespace eoscale::io::internal

#endif  // EOSCALE_IO_GDAL_UTIL_H_
