// Internal to io/: what the GDAL source and sink share (scoped error
// capture, pixel type mapping, path helpers). Not installed.
#ifndef EOSCALE_IO_GDAL_UTIL_H_
#define EOSCALE_IO_GDAL_UTIL_H_

#include <cerrno>
#include <string>

#include "absl/status/statusor.h"
#include "cpl_error.h"
#include "eoscale/core/pixel_type.h"
#include "gdal.h"

namespace eoscale::io::internal {

// Collects GDAL's errors and warnings for the duration of one call on this
// thread (GDAL's handler stack is per thread). Never reads a global "last
// error". Keeps the errno seen when the first error was reported (GDAL
// leaves the cause of a failed write there, e.g. ENOSPC or EFBIG, and later
// calls may overwrite it; set errno to 0 before the call), and leaves errno
// as it found it.
class ScopedGdalErrors {
 public:
  ScopedGdalErrors() { CPLPushErrorHandlerEx(&Handler, this); }
  ~ScopedGdalErrors() { CPLPopErrorHandler(); }
  ScopedGdalErrors(const ScopedGdalErrors&) = delete;
  ScopedGdalErrors& operator=(const ScopedGdalErrors&) = delete;

  bool failed() const { return failed_; }
  int first_errno() const { return errno_; }
  std::string message() const { return message_.empty() ? "unknown GDAL error" : message_; }
  const std::string& warnings() const { return warnings_; }

 private:
  static void CPL_STDCALL Handler(CPLErr level, CPLErrorNum, const char* msg) {
    const int e = errno;
    auto* self = static_cast<ScopedGdalErrors*>(CPLGetErrorHandlerUserData());
    std::string& to = level >= CE_Failure ? self->message_ : self->warnings_;
    if (level >= CE_Failure) {
      if (!self->failed_) self->errno_ = e;
      self->failed_ = true;
    } else if (level != CE_Warning) {
      return;  // debug messages
    }
    if (!to.empty()) to += "; ";
    to += msg;
    errno = e;
  }
  bool failed_ = false;
  int errno_ = 0;
  std::string message_;
  std::string warnings_;
};

absl::StatusOr<PixelType> FromGdal(GDALDataType t, bool signed_byte);
GDALDataType ToGdal(PixelType t);
// The folder of `path` ("." when it has none).
std::string Dirname(const std::string& path);

}  // namespace eoscale::io::internal

#endif  // EOSCALE_IO_GDAL_UTIL_H_
