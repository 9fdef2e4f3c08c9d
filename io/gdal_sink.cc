// GDAL's RasterSink (gdal_sink.h): the checks of an output path and of
// creation options, and CreateGeoTiff, which creates the locked temporary
// beside the target and GDAL's GeoTIFF in it, and hands both to a
// GeoTiffSink (written in gdal_sink_write.cc, put in place in
// gdal_sink_commit.cc).
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cpl_conv.h"
#include "cpl_string.h"
#include "eoscale/core/file_identity.h"
#include "eoscale/io/gdal_raster.h"
#include "eoscale/io/gdal_sink.h"
#include "eoscale/io/gdal_util.h"
#include "eoscale/io/output_file.h"

namespace eoscale::io {
namespace {

using internal::CreateTemporary;
using internal::ErrnoStatus;
using internal::GeoTiffSink;
using internal::IsNoSpace;
using internal::KindOf;
using internal::RemoveStaleTemporaries;
using internal::SaysNoSpace;
using internal::ScopedGdalErrors;
using internal::StillNamed;
using internal::ToGdal;
using internal::WithoutTemporary;

// The code and message of a failed GDALCreate.
absl::Status CreateError(const ScopedGdalErrors& errors, const std::string& path, const std::string& tmp_path) {
  const int e = errors.first_errno();
  const std::string message = WithoutTemporary(errors.message(), tmp_path);
  absl::StatusCode code = absl::StatusCode::kInvalidArgument;  // GDAL refused the parameters
  if (IsNoSpace(e) || SaysNoSpace(message) || e == EMFILE || e == ENFILE) {
    code = absl::StatusCode::kResourceExhausted;
  } else if (e == EACCES || e == EPERM || e == EROFS) {
    code = absl::StatusCode::kPermissionDenied;
  }
  return absl::Status(code, absl::StrCat("cannot create '", path, "': ", message));
}

}  // namespace

absl::Status CheckCreationOptions(const std::vector<std::string>& options) {
  EnsureGdalInitialized();
  GDALDriverH driver = GDALGetDriverByName("GTiff");
  for (const std::string& o : options) {
    const size_t eq = o.find('=');
    if (eq == 0 || eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("creation option '", o, "' is not KEY=VALUE"));
    }
    const char* one[] = {o.c_str(), nullptr};
    ScopedGdalErrors errors;
    if (!GDALValidateCreationOptions(driver, one)) {
      const std::string why = !errors.warnings().empty() ? errors.warnings() : errors.message();
      return absl::InvalidArgumentError(
          absl::StrCat("creation option '", o, "' is not valid for GeoTIFF: ", why));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckWritable(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("output path is empty");
  if (IsVirtualPath(path)) {
    return absl::UnimplementedError(absl::StrCat(
        "cannot write '", path, "': outputs are local files (GDAL virtual file systems are for inputs)"));
  }
  absl::StatusOr<OutputLocation> loc = ResolveOutputPath(path);
  if (!loc.ok()) return loc.status();
  const std::string target = loc->path();
  const std::string shown = target == path ? absl::StrCat("'", path, "'")
                                           : absl::StrCat("'", path, "' (which leads to '", target, "')");
  long name_max = ::pathconf(loc->folder.c_str(), _PC_NAME_MAX);
  if (name_max <= 0) name_max = NAME_MAX;
  if (loc->name.size() > static_cast<size_t>(name_max)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write ", shown, ": its name is ", loc->name.size(),
                                                   " bytes long, and the file system allows at most ", name_max));
  }
  struct stat st;
  if (::stat(target.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::InvalidArgumentError(absl::StrCat("output path ", shown, " is a folder"));
    if (!S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat("output path ", shown, " is ", KindOf(st.st_mode),
                                                     ", not a regular file: refusing to replace it with a file"));
    }
  } else if (errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("cannot write ", shown));
  }
  if (::access(loc->folder.c_str(), W_OK) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", shown, ": folder '", loc->folder, "' is not writable"));
  }
  if (::access(target.c_str(), F_OK) == 0 && ::access(target.c_str(), W_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", shown, ": the file is read-only"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RasterSink>> CreateGeoTiff(const std::string& path, const Profile& profile,
                                                          int block_width, int block_height,
                                                          const std::vector<std::string>& options,
                                                          bool durable, bool assemble_rows) {
  EnsureGdalInitialized();
  if (absl::Status s = CheckWritable(path); !s.ok()) return s;
  for (const std::vector<std::string>* list : {&profile.writer_options, &options}) {
    if (absl::Status s = CheckCreationOptions(*list); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot create '", path, "': ", s.message()));
    }
  }
  absl::StatusOr<OutputLocation> loc = ResolveOutputPath(path);
  if (!loc.ok()) return loc.status();

  GDALDriverH driver = GDALGetDriverByName("GTiff");
  const bool strips = block_width >= profile.width;
  bool direct = false;
  char** opts = nullptr;
  if (strips) {
    block_width = profile.width;
    block_height = std::max(1, std::min(block_height, profile.height));
    opts = CSLSetNameValue(opts, "BLOCKYSIZE", absl::StrCat(block_height).c_str());
    direct = true;
  } else {
    if (block_width % 16 != 0 || block_height % 16 != 0) {
      block_width = block_height = 256;
    } else {
      direct = true;
    }
    opts = CSLSetNameValue(opts, "TILED", "YES");
    opts = CSLSetNameValue(opts, "BLOCKXSIZE", absl::StrCat(block_width).c_str());
    opts = CSLSetNameValue(opts, "BLOCKYSIZE", absl::StrCat(block_height).c_str());
  }
  if (profile.bands > 1) opts = CSLSetNameValue(opts, "INTERLEAVE", "BAND");
  if (profile.type == PixelType::kI8) opts = CSLSetNameValue(opts, "PIXELTYPE", "SIGNEDBYTE");
  bool user_layout = false;
  auto apply = [&](const std::vector<std::string>& list) {
    for (const std::string& o : list) {
      char* key = nullptr;
      const char* value = CPLParseNameValue(o.c_str(), &key);
      if (key != nullptr && value != nullptr) {
        const std::string k = key;
        if (k == "TILED" || k == "BLOCKXSIZE" || k == "BLOCKYSIZE" || k == "INTERLEAVE") user_layout = true;
        opts = CSLSetNameValue(opts, key, value);
      }
      CPLFree(key);
    }
  };
  apply(profile.writer_options);
  apply(options);
  if (user_layout) direct = false;  // the layout is the user's: go through RasterIO

  const int dirfd = ::open(loc->folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    const int e = errno;
    CSLDestroy(opts);
    return ErrnoStatus(e, absl::StrCat("cannot create '", path, "': cannot open folder '", loc->folder, "'"));
  }
  RemoveStaleTemporaries(dirfd, loc->name);
  absl::StatusOr<std::pair<std::string, int>> tmp = CreateTemporary(dirfd, *loc, path);
  if (!tmp.ok()) {
    CSLDestroy(opts);
    ::close(dirfd);
    return tmp.status();
  }
  // Plain variables, not a structured binding: clang 14 cannot capture one.
  const std::string tmp_name = std::move(tmp->first);
  const int fd = tmp->second;
  auto drop = [&] {
    ::unlinkat(dirfd, tmp_name.c_str(), 0);
    ::close(fd);
    ::close(dirfd);
  };
  // While the new pixels are written, nobody may read them who could not
  // read the file they replace (a 0600 file's new version must not sit in a
  // 0644 temporary): its group and other bits at most, and read-write for
  // this process, which GDAL needs. Commit sets the exact mode and owner.
  struct stat old;
  if (::fstatat(dirfd, loc->name.c_str(), &old, 0) == 0 && S_ISREG(old.st_mode)) {
    ::fchmod(fd, (old.st_mode & 0777) | S_IRUSR | S_IWUSR);
  }
  const std::string tmp_path = absl::StrCat(loc->folder == "/" ? "" : loc->folder, "/", tmp_name);
  ScopedGdalErrors errors;
  errno = 0;
  GDALDatasetH h = GDALCreate(driver, tmp_path.c_str(), profile.width, profile.height, profile.bands,
                              ToGdal(profile.type), opts);
  CSLDestroy(opts);
  if (h == nullptr) {
    drop();
    return CreateError(errors, path, tmp_path);
  }
  // GDAL truncates and writes the empty file we created (and lock); were it
  // to replace it, the lock would protect nothing.
  if (!StillNamed(dirfd, tmp_name, fd)) {
    GDALClose(h);
    drop();
    return absl::InternalError(absl::StrCat("cannot create '", path, "': GDAL replaced its temporary file"));
  }
  // GDAL reopened the temporary with O_TRUNC. On ext4 (auto_da_alloc) the
  // next close of a file truncated to 0 writes it back and waits for the
  // disk to take it: at Finish, the whole output, whether or not it is to
  // be durable (a new file, as a plain GDAL program creates, is spared).
  // Closing a descriptor of it now, while it is empty, spends that flush on
  // nothing; durability is Finish's fsync's business.
  if (const int probe = ::openat(dirfd, tmp_name.c_str(), O_RDONLY | O_CLOEXEC); probe >= 0) ::close(probe);
  double gt6[6];
  for (int i = 0; i < 6; ++i) gt6[i] = profile.geotransform[i];
  GDALSetGeoTransform(h, gt6);
  if (!profile.crs_wkt.empty()) GDALSetProjection(h, profile.crs_wkt.c_str());
  if (profile.nodata) {
    for (int b = 1; b <= profile.bands; ++b) GDALSetRasterNoDataValue(GDALGetRasterBand(h, b), *profile.nodata);
  }
  if (errors.failed()) {
    GDALClose(h);
    drop();
    return absl::InvalidArgumentError(
        absl::StrCat("cannot set up '", path, "': ", WithoutTemporary(errors.message(), tmp_path)));
  }
  return std::unique_ptr<RasterSink>(new GeoTiffSink(path, *std::move(loc), dirfd, std::move(tmp_name), fd, h,
                                                     profile, block_width, block_height, direct, durable,
                                                     direct && assemble_rows));
}

}  // namespace eoscale::io
