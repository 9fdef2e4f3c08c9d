#include "cog.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cpl_conv.h"
#include "cpl_error.h"
#include "cpl_string.h"
#include "gdal.h"
#include "gdal_utils.h"
#include "session.h"
#include "stop_signals.h"

namespace eoscale::cli {

namespace {

// fsync()s `path` (a file or a folder); "" or the error's text.
std::string Sync(const std::string& path, bool folder) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (folder ? O_DIRECTORY : 0));
  if (fd < 0) return std::strerror(errno);
  const int rc = ::fsync(fd);
  const int e = errno;
  ::close(fd);
  return rc == 0 ? std::string() : std::strerror(e);
}

std::string Key(const std::string& kv) { return absl::AsciiStrToUpper(kv.substr(0, kv.find('='))); }

bool HasKey(const std::vector<std::string>& co, const std::string& key) {
  for (const std::string& kv : co) {
    if (Key(kv) == key) return true;
  }
  return false;
}

// Collects GDAL's messages during one call instead of printing them.
struct ErrorCollector {
  std::string messages;
  bool failed = false;
  ErrorCollector() { CPLPushErrorHandlerEx(&Handler, this); }
  ~ErrorCollector() { CPLPopErrorHandler(); }
  static void CPL_STDCALL Handler(CPLErr level, CPLErrorNum, const char* msg) {
    auto* self = static_cast<ErrorCollector*>(CPLGetErrorHandlerUserData());
    if (level >= CE_Failure) self->failed = true;
    if (!self->messages.empty()) self->messages += "; ";
    self->messages += msg;
  }
};

int CPL_STDCALL TranslateProgress(double fraction, const char*, void* data) {
  if (examples::StopRequested()) return FALSE;
  auto* bar = static_cast<ProgressBar*>(data);
  bar->Update(static_cast<int64_t>(fraction * 1000), 1000, nullptr);
  return TRUE;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CogOptions(const std::vector<std::string>& co, int workers) {
  std::vector<std::string> out = co;
  if (!HasKey(co, "COMPRESS")) {
    out.push_back("COMPRESS=DEFLATE");
    if (!HasKey(co, "PREDICTOR")) out.push_back("PREDICTOR=YES");
  }
  if (!HasKey(co, "NUM_THREADS")) out.push_back(absl::StrCat("NUM_THREADS=", workers));
  if (!HasKey(co, "BIGTIFF")) out.push_back("BIGTIFF=IF_SAFER");
  GDALAllRegister();
  GDALDriverH cog = GDALGetDriverByName("COG");
  if (cog == nullptr) return absl::FailedPreconditionError("--cog: this GDAL has no COG driver");
  CPLStringList list;
  for (const std::string& kv : out) list.AddString(kv.c_str());
  ErrorCollector errors;
  if (!GDALValidateCreationOptions(cog, list.List())) {
    return absl::InvalidArgumentError(absl::StrCat("--co with --cog: ", errors.messages));
  }
  // GDAL only warns about an unknown key: refuse it too.
  if (!errors.messages.empty()) return absl::InvalidArgumentError(absl::StrCat("--co with --cog: ", errors.messages));
  return out;
}

std::string CogTemporaryName(const std::string& path, const std::string& tag) {
  static std::atomic<int> counter{0};
  const std::filesystem::path p(path);
  const std::filesystem::path dir = p.parent_path();
  const std::string name =
      absl::StrCat(".", p.filename().string(), ".cog-tmp-", ::getpid(), "-", counter++, "-", tag, ".tif");
  return (dir.empty() ? std::filesystem::path(name) : dir / name).string();
}

void Session::RemoveCogTemporaries() {
  std::error_code ec;
  for (const CogOutput& c : cogs_) std::filesystem::remove(c.temporary, ec);
}

int Session::FinishCogs() {
  std::vector<std::string> finals;
  auto fail = [&](const std::string& message) {
    std::error_code ec;
    for (const std::string& f : finals) std::filesystem::remove(f, ec);
    RemoveCogTemporaries();
    if (int code = StoppedExit(false)) return code;
    Error(message);
    return kExitFailure;
  };
  for (const CogOutput& c : cogs_) {
    finals.push_back(CogTemporaryName(c.path, "cog"));
    std::vector<std::string> args = {"-of", "COG"};
    for (const std::string& kv : c.options) {
      args.push_back("-co");
      args.push_back(kv);
    }
    CPLStringList argv;
    for (const std::string& a : args) argv.AddString(a.c_str());
    ErrorCollector errors;
    GDALDatasetH in = GDALOpenEx(c.temporary.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr);
    if (in == nullptr) return fail(absl::StrCat("--cog: cannot reopen ", c.temporary, ": ", errors.messages));
    GDALTranslateOptions* options = GDALTranslateOptionsNew(argv.List(), nullptr);
    progress_.Start("cog " + std::filesystem::path(c.path).filename().string());
    GDALTranslateOptionsSetProgress(options, TranslateProgress, &progress_);
    int usage_error = FALSE;
    GDALDatasetH out = GDALTranslate(finals.back().c_str(), in, options, &usage_error);
    GDALTranslateOptionsFree(options);
    if (out != nullptr) GDALClose(out);  // GDAL 3.6: errors while closing are reported to the handler
    const bool closed = out != nullptr && !errors.failed;
    GDALClose(in);
    progress_.Finish();
    if (!closed) return fail(absl::StrCat("--cog: writing ", c.path, " failed: ", errors.messages));
  }
  if (examples::StopRequested()) return fail("stopped");
  // Every COG is complete: on the disk before it replaces anything (unless
  // --no-sync), as the engine's own outputs.
  if (options_.durable) {
    for (const std::string& f : finals) {
      if (std::string e = Sync(f, false); !e.empty()) return fail(absl::StrCat("--cog: cannot write ", f, ": ", e));
    }
  }
  // Move them into place.
  for (size_t i = 0; i < cogs_.size(); ++i) {
    if (std::rename(finals[i].c_str(), cogs_[i].path.c_str()) != 0) {
      return fail(absl::StrCat("--cog: cannot rename ", finals[i], " to ", cogs_[i].path));
    }
  }
  RemoveCogTemporaries();
  if (options_.durable) {  // the renames too
    for (const CogOutput& c : cogs_) {
      const std::filesystem::path folder = std::filesystem::path(c.path).parent_path();
      Sync(folder.empty() ? "." : folder.string(), true);
    }
  }
  cogs_.clear();
  return kExitOk;
}

}  // namespace eoscale::cli
