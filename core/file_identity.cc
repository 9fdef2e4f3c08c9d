#include "eoscale/core/file_identity.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace eoscale {
namespace {

constexpr int kMaxSymlinkDepth = 40;  // Linux's own limit (ELOOP)

// What identifies a file: an existing one by device and inode; one that does
// not exist yet by its folder's device and inode and its name; a path that
// cannot be resolved (or a GDAL virtual path) by its spelling.
struct FileKey {
  enum class Kind { kFile, kNewFile, kSpelling } kind;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string name;  // kNewFile: the name in the folder; kSpelling: the path
  friend bool operator==(const FileKey&, const FileKey&) = default;
};

FileKey SpellingKey(const std::string& path) { return {FileKey::Kind::kSpelling, 0, 0, path}; }

// The key of the file a write to `path` lands in (following symlinks).
FileKey KeyOfTarget(const std::string& path) {
  if (IsVirtualPath(path)) return SpellingKey(path);
  absl::StatusOr<OutputLocation> loc = ResolveOutputPath(path);
  if (!loc.ok()) return SpellingKey(path);
  struct stat st;
  if (::stat(loc->path().c_str(), &st) == 0) return {FileKey::Kind::kFile, st.st_dev, st.st_ino, {}};
  if (::stat(loc->folder.c_str(), &st) == 0) return {FileKey::Kind::kNewFile, st.st_dev, st.st_ino, loc->name};
  return SpellingKey(path);
}

FileKey KeyOfInput(const std::string& path) {
  if (IsVirtualPath(path)) return SpellingKey(path);
  struct stat st;
  // An input is read through its symlinks (stat follows them). One that
  // cannot be stat'ed (e.g. "HDF5:file.h5://band", or gone) is keyed as an
  // output would be.
  if (::stat(path.c_str(), &st) == 0) return {FileKey::Kind::kFile, st.st_dev, st.st_ino, {}};
  return KeyOfTarget(path);
}

std::string Refusal(const NamedPath& out, const NamedPath& other, const char* why) {
  return absl::StrCat("refusing to write '", out.path, "' (", out.what, "): it is the same file as '", other.path,
                      "' (", other.what, "); ", why);
}

absl::Status ErrnoStatus(int e, const std::string& message) {
  switch (e) {
    case EACCES:
    case EPERM: return absl::PermissionDeniedError(message);
    case ENOENT:
    case ENOTDIR: return absl::NotFoundError(message);
    default: return absl::InvalidArgumentError(message);
  }
}

}  // namespace

bool IsVirtualPath(const std::string& path) { return absl::StartsWith(path, "/vsi"); }

absl::StatusOr<OutputLocation> ResolveOutputPath(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("output path is empty");
  if (path.size() >= PATH_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write '", path.substr(0, 64), "...': the path is ",
                                                   path.size(), " bytes long, and the system allows at most ",
                                                   PATH_MAX - 1));
  }
  std::string p = path;
  for (int depth = 0;; ++depth) {
    const size_t slash = p.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
    const std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
    if (base.empty() || base == "." || base == "..") {
      return absl::InvalidArgumentError(absl::StrCat("output path '", path, "' is a folder"));
    }
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      if (depth >= kMaxSymlinkDepth) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot write '", path, "': its symbolic links loop or nest deeper than ", kMaxSymlinkDepth));
      }
      char target[PATH_MAX];
      const ssize_t n = ::readlink(p.c_str(), target, sizeof target);
      if (n <= 0 || n >= static_cast<ssize_t>(sizeof target)) {
        const int e = n < 0 ? errno : ENAMETOOLONG;
        return ErrnoStatus(e, absl::StrCat("cannot write '", path, "': cannot read the symbolic link '", p,
                                           "': ", std::strerror(e)));
      }
      const std::string t(target, static_cast<size_t>(n));
      p = t[0] == '/' ? t : absl::StrCat(dir, "/", t);
      if (p.size() >= PATH_MAX) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot write '", path, "': the symbolic link '", p.substr(0, 64), "...' is too long"));
      }
      continue;
    }
    std::unique_ptr<char, decltype(&std::free)> real(::realpath(dir.c_str(), nullptr), &std::free);
    const int e = errno;
    if (real == nullptr) {
      if (e == ENOENT) {
        return absl::NotFoundError(absl::StrCat("cannot write '", path, "': folder '", dir, "' does not exist"));
      }
      if (e == ENOTDIR) {
        return absl::NotFoundError(absl::StrCat("cannot write '", path, "': '", dir, "' is not a folder"));
      }
      return ErrnoStatus(e, absl::StrCat("cannot write '", path, "': folder '", dir, "': ", std::strerror(e)));
    }
    if (::stat(real.get(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(absl::StrCat("cannot write '", path, "': '", dir, "' is not a folder"));
    }
    return OutputLocation{real.get(), base};
  }
}

absl::Status CheckDistinctFiles(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs) {
  std::vector<FileKey> in_keys;
  in_keys.reserve(inputs.size());
  for (const NamedPath& in : inputs) in_keys.push_back(KeyOfInput(in.path));
  std::vector<FileKey> out_keys;
  out_keys.reserve(outputs.size());
  for (size_t o = 0; o < outputs.size(); ++o) {
    const FileKey key = KeyOfTarget(outputs[o].path);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (in_keys[i] == key) {
        return absl::InvalidArgumentError(Refusal(outputs[o], inputs[i], "a run never writes one of its inputs"));
      }
    }
    for (size_t p = 0; p < o; ++p) {
      if (out_keys[p] == key) {
        return absl::InvalidArgumentError(Refusal(outputs[o], outputs[p], "a run writes each file once"));
      }
    }
    out_keys.push_back(key);
  }
  return absl::OkStatus();
}

}  // namespace eoscale
